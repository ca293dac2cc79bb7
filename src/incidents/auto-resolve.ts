/**
 * The auto-resolve sweep: open incidents whose alerts have all been resolved for their severity's
 * quiet period are closed, with a `status_change` event and `incident.resolved`.
 *
 * Safe to run on every gateway/bridge at once: the close is the store's compare-and-set
 * (`closeIfUnchanged` against the incident as this sweep read it), so of several sweeps one
 * closes and publishes, and an alert absorbed after the read (it changes updated_at and
 * alert_count) keeps the incident open. An alert absorbed after the close finds the incident
 * closed and the bridge reopens it within `reopen_window_minutes`; either way the firing lands.
 */
import type { AlertStore } from "../alerts/store.js";
import type { AutoResolvePolicy } from "../config/incident-lifecycle.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import type { Severity } from "../subjects/index.js";
import { planAutoResolve } from "./auto-resolve-plan.js";
import type { IncidentRecord, IncidentStore } from "./store.js";

export interface AutoResolveDeps {
  incidents: Pick<IncidentStore, "list" | "alertRefs" | "closeIfUnchanged">;
  alerts: Pick<AlertStore, "getMany">;
  /** `policies.incidentEscalation.resolve`. */
  policy: AutoResolvePolicy;
  events: Pick<EventPublisher, "publish">;
  /** Written as the author of the close, e.g. `incident-bridge@node1`. */
  actor: string;
  logger: Logger;
  now(): Date;
  /** Open incidents looked at per sweep, newest first (default 1000, as the escalation sweep). */
  limit?: number;
}

export interface AutoResolveSummary {
  /** Open incidents of an auto-resolving severity looked at. */
  checked: number;
  /** Incidents this sweep closed. */
  resolved: string[];
  /** Due, but changed since read (another sweep closed it, or an alert arrived): left as they are. */
  raced: number;
}

/** Incidents whose alerts are read from the alert store in one call. */
const CHUNK = 200;

export async function sweepAutoResolve(d: AutoResolveDeps): Promise<AutoResolveSummary> {
  const now = d.now();
  const severities = (Object.keys(d.policy) as Severity[]).filter((s) => d.policy[s].auto_resolve);
  const out: AutoResolveSummary = { checked: 0, resolved: [], raced: 0 };
  if (severities.length === 0) return out;
  const open = await d.incidents.list({ status: ["open", "mitigating"], severity: severities, limit: d.limit ?? 1000 });
  out.checked = open.length;
  for (let i = 0; i < open.length; i += CHUNK) {
    const chunk = open.slice(i, i + CHUNK);
    const refs = await d.incidents.alertRefs(chunk.map((inc) => inc.id));
    const alerts = await d.alerts.getMany([...new Set([...refs.values()].flat())]);
    for (const inc of chunk) {
      const decision = planAutoResolve(inc, refs.get(inc.id) ?? [], alerts, d.policy, now);
      if (!decision.resolve) continue;
      const meta = {
        auto_resolved: true, quiet_minutes: decision.quiet_minutes, last_resolved_at: decision.last_resolved_at,
        alert_refs: decision.alert_refs,
      };
      const closed = await d.incidents.closeIfUnchanged(inc, { by: d.actor, resolution: decision.resolution, meta }, now);
      if (!closed) {
        out.raced++;
        continue;
      }
      out.resolved.push(inc.id);
      await publishResolved(d, inc, closed.incident, closed.event.id, decision.quiet_minutes);
    }
  }
  if (out.resolved.length || out.raced) d.logger.info(out, "auto-resolve sweep");
  return out;
}

async function publishResolved(d: AutoResolveDeps, read: IncidentRecord, inc: IncidentRecord, eventId: string, quietMinutes: number): Promise<void> {
  const data = {
    incident_id: inc.id, service: inc.service, env: inc.env, severity: inc.severity, status: inc.status, title: inc.title,
    from: read.status, by: d.actor, event_id: eventId, quiet_minutes: quietMinutes,
    ...(inc.resolution !== undefined ? { resolution: inc.resolution } : {}),
  };
  try {
    // Keyed by the close, so a republish of this one is deduped and a later resolve (after a reopen) is not.
    await d.events.publish("incident.resolved", data, `resolved:${inc.id}@${inc.closed_at}`);
  } catch (err) {
    d.logger.warn({ err, incident_id: inc.id }, "incident.resolved publish failed (the store has the close)");
  }
}
