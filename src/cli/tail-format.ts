/** One readable line per bus message, for `opsbus tail`. */
import { EventEnvelope } from "../subjects/index.js";

/** The fields worth a glance, in this order; anything else is left to --json. */
const KEY_FIELDS = [
  "service", "incident_id", "severity", "from", "to", "action", "alert_ref", "count", "run_id", "task_id",
  "graph", "status", "reason", "error_code", "error", "duration_ms", "title", "week", "env", "created", "updated",
] as const;
const MAX_VALUE_CHARS = 60;

function show(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const short = text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
  return /\s/.test(short) ? JSON.stringify(short) : short;
}

function fields(data: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const k of KEY_FIELDS) if (data[k] !== undefined && data[k] !== null) parts.push(`${k}=${show(data[k])}`);
  // alert.deduped lists its alerts: name the services that were hit, not every ref.
  if (Array.isArray(data.alerts)) {
    const services = [...new Set((data.alerts as Array<{ service?: string }>).map((a) => a.service).filter(Boolean))];
    parts.push(`alerts=${data.alerts.length}`, `services=${show(services.join(","))}`);
  }
  if (Array.isArray(data.reasons)) parts.push(`reasons=${show((data.reasons as string[]).join("; "))}`);
  return parts.join(" ");
}

function clock(ts: string): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toISOString().slice(11, 23);
}

/**
 * An event envelope prints as `HH:MM:SS.mmm  incident.created  incident_id=… service=…`; any other
 * message (an alert on ops.alerts.in.*, a trigger) as the arrival time, subject and its top-level fields.
 */
export function formatMessage(subject: string, data: Uint8Array, eventsPrefix: string): string {
  const text = new TextDecoder().decode(data);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${clock(new Date().toISOString())}  ${subject}  ${show(text)}`;
  }
  const e = EventEnvelope.safeParse(body);
  if (e.success && subject.startsWith(eventsPrefix)) {
    return `${clock(e.data.ts)}  ${e.data.type.padEnd(18)}  ${fields(e.data.data)}`.trimEnd();
  }
  const flat = body && typeof body === "object" && !Array.isArray(body) ? fields(body as Record<string, unknown>) : show(body);
  return `${clock(new Date().toISOString())}  ${subject}  ${flat || show(body)}`.trimEnd();
}
