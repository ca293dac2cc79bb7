/**
 * PagerDuty Events API v2 (`POST /v2/enqueue`): one PagerDuty alert per incident, `dedup_key` =
 * the incident id. opened, escalated, reopened and repeat trigger it (a trigger on an open alert
 * updates it), acknowledged acknowledges it, resolved resolves it. An alert group's notification
 * is one PagerDuty alert per group (`dedup_key` = the group id, a hash of Alertmanager's group
 * key): triggered while any of its alerts fires, resolved once all are. PagerDuty answers 202; 400 is
 * a body it will never take; 429 and 5xx are tried again.
 */
import type { GroupNotification, IncidentNotification as Notification, Integration, MomentKind } from "../types.js";
import { alertLines, commonPairs, groupTitle } from "./group-text.js";
import type { HttpClient } from "./http.js";
import { headline, truncate } from "./text.js";

export const PD_SUMMARY_MAX = 1024;
const PD_SEVERITY = { P0: "critical", P1: "error", P2: "warning", P3: "info" } as const;
const ACTION: Record<MomentKind, "trigger" | "acknowledge" | "resolve"> = {
  opened: "trigger",
  escalated: "trigger",
  reopened: "trigger",
  repeat: "trigger",
  acknowledged: "acknowledge",
  resolved: "resolve",
};

export interface PagerDutyBody {
  routing_key: string;
  event_action: "trigger" | "acknowledge" | "resolve";
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: (typeof PD_SEVERITY)[keyof typeof PD_SEVERITY];
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  links?: Array<{ href: string; text: string }>;
  client: "opsbus";
  client_url?: string;
}

/** The enqueue body; a trigger carries the payload, acknowledge and resolve need only the dedup key. */
export function buildPagerDutyBody(n: Notification, routingKey: string): PagerDutyBody {
  const i = n.incident;
  const action = ACTION[n.moment.kind];
  const severity = n.moment.to_severity ?? i.severity;
  const links = [
    ...(n.ack_url && action === "trigger" ? [{ href: n.ack_url, text: "Acknowledge in opsbus" }] : []),
    ...(n.external_url ? [{ href: n.external_url, text: "opsbus" }] : []),
  ];
  const body: PagerDutyBody = {
    routing_key: routingKey,
    event_action: action,
    dedup_key: i.id,
    client: "opsbus",
    ...(n.external_url ? { client_url: n.external_url } : {}),
  };
  if (action === "trigger") {
    body.payload = {
      summary: truncate(headline(n), PD_SUMMARY_MAX),
      source: i.service,
      severity: PD_SEVERITY[severity],
      timestamp: n.moment.at,
      component: i.labels.component ?? i.service,
      group: i.env,
      class: i.labels.kind ?? "incident",
      custom_details: {
        incident_id: i.id,
        notification_key: n.key,
        moment: n.moment.kind,
        moment_id: n.moment.moment_id,
        ...(n.moment.from_severity ? { from_severity: n.moment.from_severity } : {}),
        status: i.status,
        started_at: i.started_at,
        alert_count: i.alert_count,
        reopened_count: i.reopened_count,
        labels: i.labels,
        alerts: n.alerts.slice(0, 20).map((a) => ({ status: a.status, fingerprint: a.fingerprint, labels: a.labels, starts_at: a.starts_at })),
      },
    };
    if (links.length) body.links = links;
  } else if (links.length) {
    body.links = links;
  }
  return body;
}

/** Alertmanager's severity label words, else the opsbus severity the alerts carry. */
const GROUP_SEVERITY: Record<string, PdSeverity> = { critical: "critical", error: "error", warning: "warning", info: "info", ...PD_SEVERITY };
type PdSeverity = (typeof PD_SEVERITY)[keyof typeof PD_SEVERITY];

/** An alert group's flush: trigger while firing (updating the open PagerDuty alert), resolve once nothing fires. */
export function buildGroupPagerDutyBody(n: GroupNotification, routingKey: string): PagerDutyBody {
  const firing = n.group.status === "firing";
  const body: PagerDutyBody = {
    routing_key: routingKey,
    event_action: firing ? "trigger" : "resolve",
    dedup_key: n.group.id,
    client: "opsbus",
    ...(n.external_url ? { client_url: n.external_url, links: [{ href: n.external_url, text: "opsbus" }] } : {}),
  };
  if (!firing) return body;
  const common = commonPairs(n.alerts.map((a) => a.labels));
  body.payload = {
    summary: truncate(groupTitle(n), PD_SUMMARY_MAX),
    source: common.instance ?? common.service ?? n.receiver,
    severity: GROUP_SEVERITY[common.severity ?? ""] ?? "error",
    timestamp: n.group.at,
    component: common.job ?? common.service ?? "",
    group: common.env ?? "",
    class: common.alertname ?? "alert_group",
    custom_details: {
      group_key: n.route.group_key,
      notification_key: n.key,
      firing: alertLines(n, 20).filter((l) => l.startsWith("firing ")).join("\n"),
      resolved: alertLines(n, 20).filter((l) => l.startsWith("resolved ")).join("\n"),
      num_firing: n.group.firing,
      num_resolved: n.group.resolved,
      group_labels: n.route.group_labels,
    },
  };
  return body;
}

export interface PagerDutyDeps {
  name: string;
  url: URL;
  routingKey: string;
  http: HttpClient;
  timeoutMs: number;
  release: () => Promise<void>;
}

export function pagerDutyIntegration(d: PagerDutyDeps): Integration {
  return {
    kind: "pagerduty",
    async send(n, signal) {
      const body = JSON.stringify(n.group ? buildGroupPagerDutyBody(n, d.routingKey) : buildPagerDutyBody(n, d.routingKey));
      return d.http.postJson({
        receiver: `pagerduty "${d.name}"`,
        url: d.url,
        body,
        idempotencyKey: n.key,
        timeoutMs: d.timeoutMs,
        signal,
        secrets: [d.routingKey],
      });
    },
    close: d.release,
  };
}
