/**
 * `event_action: acknowledge`: PagerDuty acks the incident of a dedup key. Here the alert with
 * that fingerprint leads to the incident its signature currently feeds, and the ack becomes a
 * timeline note written through the gateway core (oncall_tool.incident_append_event, so RBAC
 * and the audit apply) by the routing key's intake identity. An unknown dedup key is still
 * accepted, as PagerDuty does, and said so in the outcome (logged and audited by the caller).
 */
import type { AlertStore } from "../alerts/store.js";
import { executeTool } from "../gateway/execute.js";
import type { GatewayDeps } from "../gateway/types.js";
import { incidentSignature, type SignatureConfig } from "../incidents/signature.js";
import type { IncidentStore } from "../incidents/store.js";
import type { Caller } from "../tools/types.js";
import type { RoutingTarget } from "./pagerduty-config.js";

/** How far back an acknowledge looks for the alert of its dedup key. */
const ACK_LOOKBACK_MINUTES = 30 * 24 * 60;
export const INTAKE_ROLE = "intake_pagerduty";
const APPEND_ENTITLEMENT = "tools.incidents.write";

export interface AckDeps {
  gateway: GatewayDeps;
  alerts: Pick<AlertStore, "list">;
  incidents: Pick<IncidentStore, "signatureState">;
  signature: SignatureConfig;
}

export type AckOutcome =
  | { recorded: "timeline"; alert_ref: string; incident_id: string; event_id: string; replayed: boolean }
  | { recorded: "no_alert" }
  | { recorded: "no_open_incident"; alert_ref: string }
  | { recorded: "append_failed"; alert_ref: string; incident_id: string; error: string };

/** The caller an acknowledge writes as: the routing key's name, allowed only to append to a timeline. */
export function intakeCaller(target: RoutingTarget): Caller {
  return { agent_id: `pagerduty:${target.name}`, role: INTAKE_ROLE, entitlements: new Set([APPEND_ENTITLEMENT]), authenticated: true, channel: "http" };
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
      action: "incident_append_event",
      params: {
        incident_id: incidentId,
        type: "note",
        message: `acknowledged via PagerDuty Events API (routing key ${target.name})`,
        meta: { via: "pagerduty", action: "acknowledge", dedup_key: dedupKey, alert_ref: alert.alert_ref, routing_key_name: target.name },
        // A repeated acknowledge of the same alert on the same incident is recorded once.
        dedupe_key: `pagerduty-ack:${incidentId}:${alert.alert_ref}`.slice(0, 200),
      },
    },
  });
  if (!reply.ok) return { recorded: "append_failed", alert_ref: alert.alert_ref, incident_id: incidentId, error: `${reply.error.code}: ${reply.error.message}` };
  const result = reply.result as { event: { id: string }; replayed: boolean };
  return { recorded: "timeline", alert_ref: alert.alert_ref, incident_id: incidentId, event_id: result.event.id, replayed: result.replayed };
}
