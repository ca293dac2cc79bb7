/**
 * A PagerDuty Events API v2 event (`POST /v2/enqueue`): validated with PagerDuty's rules and
 * error style (`{status: "invalid event", message: "Event object is invalid", errors: [...]}`),
 * and mapped to the alert payload the ingest worker takes (one entry of an AlertBatchMessage).
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { opsSeverity, PD_SEVERITIES, type PagerDutyIntakeConfig, type RoutingTarget } from "./pagerduty-config.js";

export const EVENT_ACTIONS = ["trigger", "acknowledge", "resolve"] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/** PagerDuty's own bounds. */
export const MAX_SUMMARY_CHARS = 1024;
export const MAX_DEDUP_KEY_CHARS = 255;
/** The alert's title bound (alertInputSchema); a longer summary is kept whole as the message. */
const MAX_TITLE_CHARS = 512;
const MAX_LABEL_KEY_CHARS = 128;
const MAX_LABEL_VALUE_CHARS = 1024;
/** custom_details nest; flattening stops here (deeper values stay in meta only). */
const MAX_FLATTEN_DEPTH = 3;

const text = (max: number) => z.string().max(max);
const Link = z.object({ href: z.string().max(2048), text: z.string().max(1024).optional() }).catchall(z.unknown());
const Image = z.object({ src: z.string().max(2048), href: z.string().max(2048).optional(), alt: z.string().max(1024).optional() }).catchall(z.unknown());

/** Everything optional here: which fields an action needs is checked per action below. */
const PdEventShape = z.object({
  routing_key: z.string().max(256),
  event_action: z.enum(EVENT_ACTIONS),
  dedup_key: text(MAX_DEDUP_KEY_CHARS).optional(),
  payload: z
    .object({
      summary: text(MAX_SUMMARY_CHARS).optional(),
      source: text(1024).optional(),
      severity: z.enum(PD_SEVERITIES).optional(),
      timestamp: z.string().max(64).refine((t) => Number.isFinite(Date.parse(t)), "must be an ISO 8601 date-time").optional(),
      component: text(1024).optional(),
      group: text(1024).optional(),
      class: text(1024).optional(),
      custom_details: z.unknown().optional(),
    })
    .catchall(z.unknown())
    .optional(),
  links: z.array(Link).max(100).optional(),
  images: z.array(Image).max(100).optional(),
  client: text(1024).optional(),
  client_url: text(2048).optional(),
});
export type PdEvent = z.infer<typeof PdEventShape>;

export type Validated = { ok: true; event: PdEvent } | { ok: false; errors: string[] };

function issueText(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join(".");
  if (issue.code === "invalid_type" && issue.input === undefined) return `'${path}' is missing or blank`;
  return path ? `'${path}' ${issue.message}` : issue.message;
}

/** PagerDuty's checks: the shape, then what the action needs (trigger: summary, source, severity). */
export function validateEvent(body: unknown): Validated {
  if (!body || typeof body !== "object" || Array.isArray(body)) return { ok: false, errors: ["Event object must be a JSON object"] };
  const parsed = PdEventShape.safeParse(body);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.map(issueText) };
  const e = parsed.data;
  const errors: string[] = [];
  if (!e.routing_key.trim()) errors.push("'routing_key' is missing or blank");
  if (e.event_action === "trigger") {
    if (!e.payload) errors.push("'payload' is missing or blank");
    else {
      if (!e.payload.summary?.trim()) errors.push("'payload.summary' is missing or blank");
      if (!e.payload.source?.trim()) errors.push("'payload.source' is missing or blank");
      if (!e.payload.severity) errors.push("'payload.severity' is missing or blank");
    }
  } else if (!e.dedup_key?.trim()) {
    errors.push(`'dedup_key' is missing or blank (required for ${e.event_action})`);
  }
  return errors.length ? { ok: false, errors } : { ok: true, event: e };
}

/** The key PagerDuty would make up for a trigger without one: 32 hex characters. */
export function newDedupKey(): string {
  return randomBytes(16).toString("hex");
}

type Scalar = string | number | boolean;

/** custom_details' scalar leaves as `details.<a>.<b>` labels, at most `room` of them. */
export function detailLabels(details: unknown, room: number): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  let left = room;
  const walk = (value: unknown, path: string, depth: number): void => {
    if (left <= 0) return;
    if (typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) {
      if (path.length > MAX_LABEL_KEY_CHARS) return;
      out[path] = typeof value === "string" ? value.slice(0, MAX_LABEL_VALUE_CHARS) : value;
      left--;
      return;
    }
    if (depth >= MAX_FLATTEN_DEPTH || !value || typeof value !== "object" || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`, depth + 1);
  };
  walk(details, "details", 0);
  return out;
}

/** The labels of a trigger: component, group, class, the event's source, then custom_details' scalars. */
export function triggerLabels(e: PdEvent, maxLabels: number): Record<string, Scalar> {
  const p = e.payload ?? {};
  const base: Record<string, Scalar> = {};
  for (const k of ["component", "group", "class", "source"] as const) {
    const v = p[k];
    if (typeof v === "string" && v.trim()) base[k] = v.slice(0, MAX_LABEL_VALUE_CHARS);
  }
  const room = Math.max(0, maxLabels - Object.keys(base).length);
  return { ...base, ...detailLabels(p.custom_details, room) };
}

export interface MappedEvent {
  dedup_key: string;
  /** The alert payload for a trigger or resolve; absent for acknowledge (not an alert change). */
  alert?: Record<string, unknown>;
}

/**
 * The event's field an alert field came from (see `alertOfEvent`), so a refusal of the alert
 * names what the sender wrote: `title` → `payload.summary`, `labels.details.a` →
 * `payload.custom_details.a`.
 */
function eventFieldOf(path: string, action: EventAction): string | undefined {
  // A resolve's alert is made of its dedup_key alone: its title is the key too.
  if (path === "fingerprint" || (action === "resolve" && (path === "title" || path === "message"))) return "dedup_key";
  if (action === "resolve") return undefined;
  if (path === "title" || path === "message") return "payload.summary";
  const head = (prefix: string) => path === prefix || path.startsWith(`${prefix}.`);
  if (head("labels.details")) return `payload.custom_details${path.slice("labels.details".length)}`;
  if (/^labels\.(component|group|class|source)$/.test(path)) return `payload.${path.slice("labels.".length)}`;
  for (const [prefix, field] of [["meta.pagerduty.custom_details", "payload.custom_details"], ["meta.pagerduty.links", "links"], ["meta.pagerduty.images", "images"]] as const) {
    if (head(prefix)) return field + path.slice(prefix.length);
  }
  if (path === "meta.annotations.client" || path === "meta.annotations.client_url" || path === "annotations.client" || path === "annotations.client_url") return path.slice(path.lastIndexOf(".") + 1);
  return undefined;
}

/** A reason the alert check gave (`<field>: <why>`) in PagerDuty's error style, naming the event's field. */
export function inEventTerms(reason: string, action: EventAction): string {
  const m = /^([A-Za-z_][\w.-]*): ([^]*)$/.exec(reason);
  const field = m ? eventFieldOf(m[1]!, action) : undefined;
  return field ? `'${field}' ${m![2]}` : reason;
}

/** A validated event as the alert payload of a batch entry (trigger → firing, resolve → resolved). */
export function alertOfEvent(
  e: PdEvent,
  target: RoutingTarget,
  cfg: Pick<PagerDutyIntakeConfig, "severity_map">,
  opts: { now: Date; maxLabels: number; newKey?: () => string },
): MappedEvent {
  const dedupKey = e.dedup_key?.trim() || (opts.newKey ?? newDedupKey)();
  if (e.event_action === "acknowledge") return { dedup_key: dedupKey };
  if (e.event_action === "resolve") {
    // The env too when the key names one: an alert is found by its fingerprint within its env.
    return { dedup_key: dedupKey, alert: { service: target.service, fingerprint: dedupKey, status: "resolved", ...(target.env ? { env: target.env } : {}) } };
  }
  const p = e.payload!;
  const summary = p.summary!.trim();
  const annotations: Record<string, string> = { summary };
  if (e.client) annotations.client = e.client;
  if (e.client_url) annotations.client_url = e.client_url;
  const alert: Record<string, unknown> = {
    service: target.service,
    title: summary.slice(0, MAX_TITLE_CHARS),
    kind: target.kind ?? "custom",
    severity: opsSeverity(cfg, p.severity!),
    source: target.source,
    fingerprint: dedupKey,
    labels: triggerLabels(e, opts.maxLabels),
    starts_at: new Date(p.timestamp ? Date.parse(p.timestamp) : opts.now.getTime()).toISOString(),
    status: "firing",
    annotations,
    // Unknown to the alert schema, so kept whole under the record's meta.
    pagerduty: {
      routing_key_name: target.name,
      severity: p.severity,
      ...(p.custom_details !== undefined ? { custom_details: p.custom_details } : {}),
      ...(e.links?.length ? { links: e.links } : {}),
      ...(e.images?.length ? { images: e.images } : {}),
    },
  };
  if (target.env) alert.env = target.env;
  if (target.resolve_timeout_minutes) alert.ends_at = new Date(opts.now.getTime() + target.resolve_timeout_minutes * 60_000).toISOString();
  if (summary.length > MAX_TITLE_CHARS) alert.message = summary;
  return { dedup_key: dedupKey, alert };
}
