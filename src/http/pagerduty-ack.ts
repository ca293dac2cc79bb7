/**
 * `event_action: acknowledge`: PagerDuty acks the incident of a dedup key. Here the alert with
 * that fingerprint leads to the incident its signature currently feeds, which is acknowledged
 * through the gateway core (oncall_tool.incident_ack, so RBAC, the audit and the
 * `incident.acknowledged` event apply) by the routing key's intake identity. An incident already
 * acknowledged stays as it was. An unknown dedup key is still accepted, as PagerDuty does, and
 * said so in the outcome (logged and audited by the caller).
 */
import type { AlertStore } from "../alerts/store.js";
import { OpsError } from "../errors.js";
import { executeTool } from "../gateway/execute.js";
import type { GatewayDeps } from "../gateway/types.js";
import { incidentSignature, type SignatureConfig } from "../incidents/signature.js";
import type { IncidentStore } from "../incidents/store.js";
import type { Caller } from "../tools/types.js";
import type { RoutingTarget } from "./pagerduty-config.js";

/** How far back an acknowledge looks for the alert of its dedup key. */
const ACK_LOOKBACK_MINUTES = 30 * 24 * 60;
export const INTAKE_ROLE = "intake_pagerduty";
const ACK_ENTITLEMENT = "tools.incidents.write";

export interface AckDeps {
  gateway: GatewayDeps;
  alerts: Pick<AlertStore, "list">;
  incidents: Pick<IncidentStore, "signatureState">;
  signature: SignatureConfig;
}

export type AckOutcome =
  /** `changed: false`: it was acknowledged already (the first ack kept). */
  | { recorded: "acknowledged"; alert_ref: string; incident_id: string; changed: boolean; event_id?: string }
  | { recorded: "no_alert" }
  | { recorded: "no_open_incident"; alert_ref: string }
  | { recorded: "ack_failed"; alert_ref: string; incident_id: string; error: string };

/** The caller an acknowledge writes as: the routing key's name, allowed only to change incidents. */
export function intakeCaller(target: RoutingTarget): Caller {
  return { agent_id: `pagerduty:${target.name}`, role: INTAKE_ROLE, entitlements: new Set([ACK_ENTITLEMENT]), authenticated: true, channel: "http" };
}

export async function acknowledge(d: AckDeps, target: RoutingTarget, dedupKey: string, now: Date, requestId?: string): Promise<AckOutcome> {
  const [alert] = await d.alerts.list({ fingerprint: dedupKey, service: target.service, window_minutes: ACK_LOOKBACK_MINUTES, limit: 1 }, now);
  if (!alert) return { recorded: "no_alert" };
  const state = await d.incidents.signatureState(incidentSignature(alert, d.signature));
  const incidentId = state?.open_incident_id;
  if (!incidentId) return { recorded: "no_open_incident", alert_ref: alert.alert_ref };
  const reply = await executeTool(d.gateway, {
    tool: "oncall_tool",
    channel: "http",
    trustedCaller: intakeCaller(target),
    ...(requestId ? { requestId } : {}),
    body: {
      action: "incident_ack",
      params: { incident_id: incidentId, note: `acknowledged via PagerDuty Events API (routing key ${target.name})` },
    },
  });
  // The store could not take it: the sender retries (503) rather than the ack being dropped.
  if (!reply.ok && reply.error.code === "unavailable") throw new OpsError("unavailable", reply.error.message);
  if (!reply.ok) return { recorded: "ack_failed", alert_ref: alert.alert_ref, incident_id: incidentId, error: `${reply.error.code}: ${reply.error.message}` };
  const result = reply.result as { changed: boolean; event?: { id: string } };
  return { recorded: "acknowledged", alert_ref: alert.alert_ref, incident_id: incidentId, changed: result.changed, ...(result.event ? { event_id: result.event.id } : {}) };
}
