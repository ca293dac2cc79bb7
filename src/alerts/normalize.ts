import { createHash } from "node:crypto";
import { z } from "zod";
import type { AlertRoutingPolicy } from "../config/policies.js";
import { ALERT_FIELDS, SEVERITIES, alertInputSchema, token, type Severity } from "../subjects/index.js";
import type { IngestItem, NewAlert } from "./store.js";
import { findUnstorable, unstorableReason } from "../util/storable.js";
import { makeFastAlertParser } from "./fast-parse.js";
import { isCanonicalIso } from "../util/iso-time.js";

export { makeAlertValidityProof, makeFastAlertParser } from "./fast-parse.js";

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

/**
 * Unknown fields are kept as `meta`, so their nesting is bounded: a store cannot serialise a value
 * nested thousands deep (JSON.stringify overflows the stack), and the batch would fail forever.
 */
export const MAX_META_DEPTH = 32;

/** True when `v` nests objects or arrays deeper than `max`; stops descending at the bound. */
function nestsDeeper(v: unknown, max: number): boolean {
  if (v === null || typeof v !== "object") return false;
  if (max <= 0) return true;
  for (const k in v) if (nestsDeeper((v as Record<string, unknown>)[k], max - 1)) return true;
  return false;
}
const hasOwn = Object.prototype.hasOwnProperty;

const TEXT_FIELDS = ["service", "title", "kind", "source", "message", "fingerprint"] as const;

/** The first text of the alert no store could keep (NUL, lone surrogate), with its path; else undefined. */
function unstorableText(a: NewAlert): string | undefined {
  for (const f of TEXT_FIELDS) {
    const v = a[f];
    const why = typeof v === "string" ? unstorableReason(v) : undefined;
    if (why) return `${f}: ${why}`;
  }
  if (allStorable(a.labels, 0) && allStorable(a.meta, 0)) return undefined;
  return findUnstorable(a.labels, "labels") ?? findUnstorable(a.meta, "meta");
}

/**
 * True when every key and string inside `v` is storable: the usual answer, found without the
 * paths `findUnstorable` builds. False (then `findUnstorable` names it) on a bad text or past its depth.
 */
function allStorable(v: unknown, depth: number): boolean {
  if (typeof v === "string") return unstorableReason(v) === undefined;
  if (v === null || typeof v !== "object") return true;
  if (depth > 64) return false;
  for (const k in v) {
    if (!hasOwn.call(v, k)) continue;
    if (unstorableReason(k) !== undefined || !allStorable((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

export interface NormalizeOptions {
  /**
   * The `<service>` token of the subject the alert came on (`ops.alerts.in.<service>`). A body
   * `service` that disagrees with it is refused: with per-monitor NATS permissions the subject is
   * what the server vouches for, so the body must not move an alert to another service.
   */
  subjectService?: string;
  /** The start of an alert that names none: when its intake received it (a batch's `received_at`); default now. */
  receivedAt?: Date;
  /**
   * Every firing joins the one it finds, whatever start it names (`IngestItem.joins_firing`):
   * Alertmanager merges overlapping firings of a label set (an HA pair's replicas start them at
   * different times), and PagerDuty's dedup_key dedupes a trigger while its alert is open.
   */
  joinsFiring?: boolean;
  /**
   * Late news of a firing is merged into it, as Alertmanager merges overlapping firings
   * (`IngestItem.merges_overlap_ms`, `resolve_timeout_minutes` after the resolve).
   */
  mergesOverlap?: boolean;
  /** An alert that names no end fires until it is resolved (no `resolve_timeout_minutes`), as PagerDuty keeps an alert open. */
  openEnded?: boolean;
}

/** The reason a body service is refused on `subjectService`'s subject, or undefined when they agree. */
function serviceMismatch(service: string, subjectService: string | undefined): string | undefined {
  if (subjectService === undefined || subjectService === service || subjectService === token(service)) return undefined;
  return `service: "${service}" disagrees with the subject's service token "${subjectService}"; publish it on the subject of its own service`;
}

/** A valid ISO date-time in the form every store keeps. */
const isoOf = (v: string) => (isCanonicalIso(v) ? v : new Date(v).toISOString());

function issueLines(issues: z.core.$ZodIssue[]): string[] {
  return issues.slice(0, 20).map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
}

const TITLE_MISSING = "title: Invalid input: expected string, received undefined";
/** The schema leaves title optional (a resolve may name only the fingerprint): say it with the other reasons. */
function missingTitle(raw: Record<string, unknown>): string[] {
  return raw.title === undefined && raw.status !== "resolved" ? [TITLE_MISSING] : [];
}

/** Validates and normalises one alert; the same function serves the stream and the tool path. */
export function makeAlertNormalizer(policy: AlertRoutingPolicy, now: () => Date = () => new Date()) {
  const schema = alertInputSchema(policy.alerts);
  const fastParse = makeFastAlertParser(policy.alerts);
  const severityMap = new Map(Object.entries(policy.alerts.severity_map).map(([k, v]) => [k.toLowerCase(), v]));
  const known = new Set<string>(ALERT_FIELDS);
  const defaultTtl = policy.defaults.dedupe_ttl_minutes;
  const resolveTimeoutMs = policy.alerts.resolve_timeout_minutes * 60_000;

  // Prometheus sends 0001-01-01T00:00:00Z for "no endsAt": anything before 1970 is unset.
  const endsAtOf = (endsAt: string | undefined): string => {
    if (endsAt !== undefined && isCanonicalIso(endsAt) && endsAt >= "1970") return endsAt;
    const endsMs = endsAt === undefined ? NaN : Date.parse(endsAt);
    return new Date(endsMs >= 0 ? endsMs : now().getTime() + resolveTimeoutMs).toISOString();
  };
  const severityOf = (raw: string): Severity =>
    (SEVERITIES as readonly string[]).includes(raw.toUpperCase()) ? (raw.toUpperCase() as Severity) : (severityMap.get(raw.toLowerCase()) ?? "P2");

  return function normalize(raw: unknown, opts: NormalizeOptions = {}): Normalized {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      return { ok: false, reasons: ["(root): expected a JSON object"] };
    }
    let v = fastParse(raw);
    if (v === undefined) {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) return { ok: false, reasons: [...issueLines(parsed.error.issues), ...missingTitle(raw as Record<string, unknown>)] };
      v = parsed.data;
    }
    const resolve = v.status === "resolved";
    if (v.title === undefined && (!resolve || v.fingerprint === undefined)) {
      return { ok: false, reasons: [resolve ? "title: a resolve needs fingerprint or title" : TITLE_MISSING] };
    }
    const meta: Record<string, unknown> = {};
    for (const k in v) if (!known.has(k)) meta[k] = v[k];
    if (nestsDeeper(meta, MAX_META_DEPTH + 1)) return { ok: false, reasons: [`(root): unknown fields nest deeper than ${MAX_META_DEPTH} levels`] };
    const alert: NewAlert = {
      fingerprint: "",
      service: v.service,
      // A resolve by fingerprint alone: the title is only shown if the fingerprint is unknown.
      title: v.title ?? `resolve ${v.fingerprint}`,
      kind: v.kind,
      severity: severityOf(v.severity),
      env: v.env,
      source: v.source,
      ...(v.message !== undefined ? { message: v.message } : {}),
      labels: v.labels,
      meta,
      starts_at: v.starts_at ? isoOf(v.starts_at) : (opts.receivedAt ?? now()).toISOString(),
    };
    alert.fingerprint = v.fingerprint ?? deriveFingerprint(alert);
    // Refused here, with the field, because one such text fails a store's whole batch (Postgres).
    const unstorable = unstorableText(alert);
    if (unstorable) return { ok: false, reasons: [`${unstorable}; refused, no store can keep it`] };
    const mismatch = serviceMismatch(alert.service, opts.subjectService);
    if (mismatch) return { ok: false, reasons: [mismatch] };
    const item: Omit<IngestItem, "receipt_key"> = { alert, dedupe_ttl_minutes: v.dedupe_ttl_minutes ?? defaultTtl };
    if (v.ends_at !== undefined || !opts.openEnded) item.ends_at = endsAtOf(v.ends_at);
    if (resolve) item.resolve = true;
    if (v.starts_at !== undefined) item.explicit_start = true;
    if (opts.joinsFiring) item.joins_firing = true;
    if (opts.mergesOverlap) item.merges_overlap_ms = resolveTimeoutMs;
    return { ok: true, item };
  };
}
