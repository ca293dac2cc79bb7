/**
 * The alert → incident bridge: turns alerts into incident timeline entries through the store's
 * atomic `absorbAlerts`, then does the side effects that follow a commit — queue the triage runs
 * it decided on, publish incident events. Every side effect is keyed (run id, event id as
 * Nats-Msg-Id), so a replayed absorb (redelivered alert) repeats them without doubling anything.
 */
import type { AlertRoutingPolicy, IncidentEscalation } from "../config/policies.js";
import { notFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import type { AlertStore } from "../alerts/store.js";
import { capSeverity, escalationTarget } from "./absorb-plan.js";
import type { AbsorbResult, BridgeAlert, BridgePolicy, IncidentRecord, IncidentStore } from "./store.js";
import type { AlertRecord, IncidentCreatedData, Severity } from "../subjects/index.js";
import type { GraphRuns } from "./graph-runs.js";
import { incidentSignature } from "./signature.js";

export interface BridgeDeps {
  incidents: IncidentStore;
  alerts: AlertStore;
  routing: AlertRoutingPolicy;
  escalation: IncidentEscalation;
  events: EventPublisher;
  graphs: GraphRuns;
  /** Written as author of what the bridge writes, e.g. `triage@node1`. */
  actor: string;
  logger: Logger;
  now(): Date;
}

export interface BridgeOverrides {
  severity_cap?: Severity;
  dedupe_window_minutes?: number;
}

export type Absorbed = AbsorbResult & { alert_ref: string; signature: string };

/** The `incident.created` fields of an incident the bridge opened: as absorb-plan opens it, from the alert, severity capped. */
export function createdFields(alert: BridgeAlert, policy: Pick<BridgePolicy, "severity_cap">): Pick<IncidentCreatedData, "service" | "env" | "severity" | "title"> {
  return { service: alert.service, env: alert.env, severity: capSeverity(alert.severity, policy.severity_cap), title: alert.title };
}

export function bridgeAlert(a: AlertRecord): BridgeAlert {
  return {
    alert_ref: a.alert_ref,
    fingerprint: a.fingerprint,
    service: a.service,
    env: a.env,
    kind: a.kind,
    severity: a.severity,
    title: a.title,
    source: a.source,
    occurrences: a.occurrences,
    starts_at: a.starts_at,
    last_seen_at: a.last_seen_at,
  };
}

export class IncidentBridge {
  constructor(private readonly d: BridgeDeps) {}

  policy(over: BridgeOverrides = {}, actor = this.d.actor): BridgePolicy {
    const defaults = this.d.routing.defaults;
    return {
      dedupe_window_minutes: over.dedupe_window_minutes ?? defaults.dedupe_window_minutes,
      reopen_window_minutes: defaults.reopen_window_minutes,
      triage_cooldown_minutes: defaults.triage_cooldown_minutes,
      severity_cap: over.severity_cap ?? defaults.incident_severity_cap,
      escalation: { occurrences: this.d.escalation.occurrences, open_minutes: this.d.escalation.open_minutes },
      actor,
    };
  }

  /** Absorbs alerts in one store step, then queues triage runs and publishes events. */
  async absorb(alerts: AlertRecord[], over: BridgeOverrides = {}, actor?: string): Promise<Absorbed[]> {
    if (alerts.length === 0) return [];
    const inputs = alerts.map((a) => ({
      signature: incidentSignature(a, this.d.routing.incidents),
      alert: bridgeAlert(a),
      // One absorb per firing: a redelivery replays, a new firing after a resolve reopens.
      dedupe_key: `alert:${a.alert_ref}@${a.starts_at}`,
    }));
    const policy = this.policy(over, actor);
    const results = await this.d.incidents.absorbAlerts(inputs, policy, this.d.now());
    const absorbed = results.map((r, i) => ({ ...r, alert_ref: inputs[i]!.alert.alert_ref, signature: inputs[i]!.signature }));
    await this.afterCommit(absorbed, (i) => createdFields(inputs[i]!.alert, policy));
    return absorbed;
  }

  /** `oncall_tool.alert_to_incident`: one alert, with the caller's cap and window. */
  async alertToIncident(alertRef: string, over: BridgeOverrides, by: string): Promise<Absorbed & { incident: IncidentRecord }> {
    const alert = await this.d.alerts.get(alertRef);
    if (!alert) throw notFound(`alert ${alertRef} not found`);
    const [result] = await this.absorb([alert], over, by);
    const incident = await this.d.incidents.get(result!.incident_id);
    return { ...result!, incident: incident! };
  }

  private async afterCommit(absorbed: Absorbed[], created: (i: number) => Pick<IncidentCreatedData, "service" | "env" | "severity" | "title">): Promise<void> {
    const runs = absorbed.filter((r) => r.triage_run_id);
    await Promise.all(runs.map((r) => this.d.graphs.publish(r.triage_run_id!, "incident_triage")));
    const pubs: Array<Promise<unknown>> = [];
    for (const [i, r] of absorbed.entries()) {
      const data = { incident_id: r.incident_id, alert_ref: r.alert_ref, signature: r.signature, action: r.action, event_id: r.event_id, ...(r.triage_run_id ? { triage_run_id: r.triage_run_id } : {}) };
      if (r.action === "created") pubs.push(this.d.events.publish("incident.created", { ...data, ...created(i), ...(r.superseded ? { superseded: r.superseded } : {}) }, r.incident_id));
      else if (r.action === "reopened") pubs.push(this.d.events.publish("incident.reopened", data, r.event_id));
      else pubs.push(this.d.events.publish("incident.updated", data, r.event_id));
      if (r.escalated) pubs.push(this.d.events.publish("incident.escalated", { incident_id: r.incident_id, ...r.escalated }, `${r.incident_id}:${r.escalated.to}`));
    }
    await Promise.all(pubs);
  }

  /** Raises open incidents whose open-duration threshold passed (occurrences are handled on absorb). */
  async sweepEscalations(): Promise<number> {
    const now = this.d.now();
    const open = await this.d.incidents.list({ status: ["open", "mitigating"], limit: 1000 });
    const policy = this.policy();
    let raised = 0;
    for (const inc of open) {
      const target = escalationTarget(inc, policy, now);
      if (!target) continue;
      const updated = await this.d.incidents.escalate(inc.id, inc.severity, target.to, target.reason, this.d.actor, now);
      if (!updated) continue;
      raised++;
      await this.d.events.publish("incident.escalated", { incident_id: inc.id, from: inc.severity, to: target.to, reason: target.reason }, `${inc.id}:${target.to}`);
    }
    return raised;
  }
}
