/** An incident and its alerts as a notification shows them, from store records. */
import type { IncidentRecord } from "../incidents/store.js";
import { incidentHeadline } from "../incidents/headline.js";
import type { AlertRecord } from "../subjects/index.js";
import type { AlertSummary, IncidentSnapshot } from "./types.js";

const text = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));
const strings = (v: unknown): Record<string, string> =>
  v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, text(x)])) : {};

export function incidentSnapshot(i: IncidentRecord): IncidentSnapshot {
  const ack = i as IncidentRecord & { acknowledged_at?: string; acknowledged_by?: string };
  return {
    id: i.id,
    ...incidentHeadline(i),
    created_at: i.created_at,
    alert_count: i.alert_count,
    reopened_count: i.reopened_count,
    labels: strings(i.labels),
    ...(i.closed_at ? { closed_at: i.closed_at } : {}),
    ...(i.resolution ? { resolution: i.resolution } : {}),
    ...(ack.acknowledged_at ? { acknowledged_at: ack.acknowledged_at } : {}),
    ...(ack.acknowledged_by ? { acknowledged_by: ack.acknowledged_by } : {}),
  };
}

/** A stored field, or where records stored before the field existed kept it (under `meta`). */
function field(rec: AlertRecord, name: string): unknown {
  const own = (rec as unknown as Record<string, unknown>)[name];
  return own !== undefined ? own : rec.meta?.[name];
}

export function alertSummary(rec: AlertRecord, now: Date): AlertSummary {
  const resolved = rec.resolved_at !== undefined || (rec.ends_at !== undefined && Date.parse(rec.ends_at) <= now.getTime());
  const generator = field(rec, "generator_url");
  return {
    alert_ref: rec.alert_ref,
    fingerprint: rec.fingerprint,
    status: resolved ? "resolved" : "firing",
    labels: { ...strings(rec.labels), service: rec.service, env: rec.env, severity: rec.severity },
    annotations: { ...(rec.message ? { description: rec.message } : {}), summary: rec.title, ...strings(field(rec, "annotations")) },
    starts_at: rec.starts_at,
    ...(rec.ends_at ? { ends_at: rec.ends_at } : {}),
    ...(typeof generator === "string" ? { generator_url: generator } : {}),
  };
}
