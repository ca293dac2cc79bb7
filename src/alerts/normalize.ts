import { createHash } from "node:crypto";
import type { z } from "zod";
import type { AlertRoutingPolicy } from "../config/policies.js";
import { ALERT_FIELDS, SEVERITIES, alertInputSchema, type Severity } from "../subjects/index.js";
import type { IngestItem, NewAlert } from "../stores/alerts/types.js";

export type Normalized = { ok: true; item: Omit<IngestItem, "receipt_key"> } | { ok: false; reasons: string[] };
export type Decoded = { ok: true; value: unknown } | { ok: false; reasons: string[] };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes off the wire → JSON value, refusing oversize and non-UTF-8 payloads with a reason. */
export function decodeAlertBytes(data: Uint8Array, maxBytes: number): Decoded {
  if (data.length > maxBytes) return { ok: false, reasons: [`payload_too_large: ${data.length} bytes, limit ${maxBytes}`] };
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { ok: false, reasons: ["payload is not valid UTF-8"] };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reasons: [`payload is not valid JSON: ${(err as Error).message}`] };
  }
}

/** service + kind + title + sorted labels: stable across monitors that omit a fingerprint. */
export function deriveFingerprint(a: Pick<NewAlert, "service" | "kind" | "title" | "labels">): string {
  const labels = Object.keys(a.labels)
    .sort()
    .map((k) => [k, a.labels[k]]);
  const basis = JSON.stringify([a.service, a.kind, a.title, labels]);
  return createHash("sha256").update(basis).digest("hex").slice(0, 32);
}

function issueLines(issues: z.core.$ZodIssue[]): string[] {
  return issues.slice(0, 20).map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
}

/** Validates and normalises one alert; the same function serves the stream and the tool path. */
export function makeAlertNormalizer(policy: AlertRoutingPolicy, now: () => Date = () => new Date()) {
  const schema = alertInputSchema(policy.alerts);
  const severityMap = new Map(Object.entries(policy.alerts.severity_map).map(([k, v]) => [k.toLowerCase(), v]));
  const known = new Set<string>(ALERT_FIELDS);

  const severityOf = (raw: string): Severity =>
    (SEVERITIES as readonly string[]).includes(raw.toUpperCase()) ? (raw.toUpperCase() as Severity) : (severityMap.get(raw.toLowerCase()) ?? "P2");

  return function normalize(raw: unknown): Normalized {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      return { ok: false, reasons: ["(root): expected a JSON object"] };
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) return { ok: false, reasons: issueLines(parsed.error.issues) };
    const v = parsed.data;
    const meta: Record<string, unknown> = {};
    for (const [k, value] of Object.entries(v)) if (!known.has(k)) meta[k] = value;
    const alert: NewAlert = {
      fingerprint: "",
      service: v.service,
      title: v.title,
      kind: v.kind,
      severity: severityOf(v.severity),
      env: v.env,
      source: v.source,
      ...(v.message !== undefined ? { message: v.message } : {}),
      labels: v.labels,
      meta,
      starts_at: v.starts_at ? new Date(v.starts_at).toISOString() : now().toISOString(),
    };
    alert.fingerprint = v.fingerprint ?? deriveFingerprint(alert);
    return { ok: true, item: { alert, dedupe_ttl_minutes: v.dedupe_ttl_minutes ?? policy.defaults.dedupe_ttl_minutes } };
  };
}
