/**
 * The generic webhook: Alertmanager's webhook v4 body (notify/webhook/webhook.go `Message` around
 * template/template.go `Data`), so a receiver written for Alertmanager takes it unchanged, plus an
 * `incident` object; an alert group's notification is that body alone, as Alertmanager sends it
 * (`status` firing while any alert fires). Optionally signed: `X-Opsbus-Signature: t=<unix seconds>,v1=<hex>`, the hex
 * HMAC-SHA256 of `<t>.<raw body>` under the receiver's secret.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { incidentHeadline } from "../../incidents/headline.js";
import type { AlertSummary, GroupNotification, IncidentNotification, Integration } from "../types.js";
import { commonPairs as common } from "./group-text.js";
import type { HttpClient } from "./http.js";

/** Go's zero time, as Alertmanager writes an alert's `endsAt` while it has none. */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";
export const SIGNATURE_HEADER = "x-opsbus-signature";
/** A signature older or newer than this is refused by `verifySignature` (replays). */
export const SIGNATURE_TOLERANCE_S = 300;

export interface WebhookAlert {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookIncident {
  id: string;
  /** The notification key (also the Idempotency-Key header). */
  key: string;
  moment: IncidentNotification["moment"]["kind"];
  moment_id: string;
  moment_at: string;
  by?: string;
  from_severity?: string;
  to_severity?: string;
  service: string;
  env: string;
  severity: string;
  title: string;
  status: string;
  started_at: string;
  closed_at?: string;
  acknowledged_at?: string;
  acknowledged_by?: string;
  alert_count: number;
  ack_url?: string;
}

/** Alertmanager's webhook v4 body, exactly (an alert group's notification). */
export type GroupWebhookBody = Omit<WebhookBody, "incident">;

export interface WebhookBody {
  version: "4";
  groupKey: string;
  truncatedAlerts: number;
  status: "firing" | "resolved";
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
  incident: WebhookIncident;
}

const alertOf = (a: AlertSummary): WebhookAlert => ({
  status: a.status,
  labels: a.labels,
  annotations: a.annotations,
  startsAt: a.starts_at,
  endsAt: a.ends_at ?? GO_ZERO_TIME,
  generatorURL: a.generator_url ?? "",
  fingerprint: a.fingerprint,
});

const sorted = (m: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** An alert group's flush: Alertmanager's body, no `incident`. */
export function buildGroupWebhookBody(n: GroupNotification): GroupWebhookBody {
  return {
    receiver: n.receiver,
    status: n.group.status,
    alerts: n.alerts.map(alertOf),
    groupLabels: sorted(n.route.group_labels),
    commonLabels: sorted(common(n.alerts.map((a) => a.labels))),
    commonAnnotations: sorted(common(n.alerts.map((a) => a.annotations))),
    externalURL: n.external_url,
    version: "4",
    groupKey: n.route.group_key,
    truncatedAlerts: n.truncated_alerts,
  };
}

export function buildWebhookBody(n: IncidentNotification): WebhookBody {
  const i = n.incident;
  const m = n.moment;
  const base = n.alerts.length ? common(n.alerts.map((a) => a.labels)) : i.labels;
  const incident: WebhookIncident = {
    id: i.id,
    key: n.key,
    moment: m.kind,
    moment_id: m.moment_id,
    moment_at: m.at,
    ...(m.by !== undefined ? { by: m.by } : {}),
    ...(m.from_severity !== undefined ? { from_severity: m.from_severity } : {}),
    ...(m.to_severity !== undefined ? { to_severity: m.to_severity } : {}),
    ...incidentHeadline(i),
    ...(i.closed_at !== undefined ? { closed_at: i.closed_at } : {}),
    ...(i.acknowledged_at !== undefined ? { acknowledged_at: i.acknowledged_at } : {}),
    ...(i.acknowledged_by !== undefined ? { acknowledged_by: i.acknowledged_by } : {}),
    alert_count: i.alert_count,
    ...(n.ack_url !== undefined ? { ack_url: n.ack_url } : {}),
  };
  return {
    receiver: n.receiver,
    status: m.kind === "resolved" ? "resolved" : "firing",
    alerts: n.alerts.map(alertOf),
    groupLabels: sorted(n.route.group_labels),
    commonLabels: sorted({ ...base, service: i.service, env: i.env, severity: i.severity }),
    commonAnnotations: sorted(common(n.alerts.map((a) => a.annotations))),
    externalURL: n.external_url,
    version: "4",
    groupKey: n.route.group_key,
    truncatedAlerts: n.truncated_alerts,
    incident,
  };
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signBody(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  const v1 = createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
  return `t=${t},v1=${v1}`;
}

/** What a receiver does with the header: true when it signs `body` under `secret` within the tolerance. */
export function verifySignature(secret: string, header: string, body: string | Buffer, nowMs: number, toleranceS = SIGNATURE_TOLERANCE_S): boolean {
  const parts = Object.fromEntries(header.split(",").map((p) => p.trim().split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || !/^[0-9a-f]{64}$/.test(parts.v1)) return false;
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return false;
  const want = createHmac("sha256", secret).update(`${t}.`).update(body).digest();
  return timingSafeEqual(want, Buffer.from(parts.v1, "hex"));
}

export interface WebhookDeps {
  name: string;
  url: URL;
  hmacSecret?: string;
  http: HttpClient;
  timeoutMs: number;
  now: () => number;
  release: () => Promise<void>;
}

export function webhookIntegration(d: WebhookDeps): Integration {
  const secrets = d.hmacSecret ? [d.hmacSecret] : [];
  return {
    kind: "webhook",
    async send(n, signal) {
      const body = JSON.stringify(n.group ? buildGroupWebhookBody(n) : buildWebhookBody(n));
      const headers: Record<string, string> = d.hmacSecret ? { [SIGNATURE_HEADER]: signBody(d.hmacSecret, body, d.now()) } : {};
      return d.http.postJson({ receiver: `webhook "${d.name}"`, url: d.url, body, idempotencyKey: n.key, headers, timeoutMs: d.timeoutMs, signal, secrets });
    },
    close: d.release,
  };
}
