/**
 * Hand-written fast paths for `alertInputSchema` and the normalizer, for the ingest hot path.
 * Each answers only what it can vouch for and otherwise leaves the decision to the full path
 * (zod, `normalize`), which stays the definition and the only source of error messages.
 * Differential unit tests keep them in step.
 */
import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import type { AlertRoutingPolicy } from "../config/policies.js";
import { SEVERITIES, type AlertInput } from "../subjects/index.js";
import { unstorableReason } from "../util/storable.js";
import { isCanonicalIso } from "../util/iso-time.js";

/*
 * A hand-written fast path for `alertInputSchema`: on the ingest hot path zod's object parse was
 * the largest single CPU cost per alert. It accepts only inputs it can vouch for and returns what
 * zod would (trimmed texts, defaults); anything unusual (an invalid field, an odd prototype, a
 * `__proto__` key) returns `undefined` and zod decides, so zod stays the definition and the only
 * source of error messages. A differential unit test keeps the two in step.
 */
const SERVICE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const ENVS = new Set<string>(OPS_ENVS);
const MAX_TTL_MINUTES = 7 * 24 * 60;
const isoDateTime = z.iso.datetime({ offset: true });
/** `z.iso.datetime({ offset: true })`, answered without zod for the form toISOString writes. */
const isIsoDateTime = (v: string) => isCanonicalIso(v) || isoDateTime.safeParse(v).success;
const hasOwn = Object.prototype.hasOwnProperty;

function plain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** `z.string().trim().min(1).max(max)`: the trimmed text, or undefined when zod would refuse it. */
function text(v: unknown, max: number): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  return t.length >= 1 && t.length <= max ? t : undefined;
}

export function makeFastAlertParser(alerts: AlertRoutingPolicy["alerts"]): (raw: unknown) => AlertInput | undefined {
  const kinds = new Set(alerts.kinds);
  const severityNames = [...SEVERITIES, ...Object.keys(alerts.severity_map)];
  const severities = new Set(severityNames.map((n) => n.toLowerCase()));
  // Names as configured, found without lower-casing (a new string) first.
  const exactSeverities = new Set(severityNames);
  // Monitors tend to repeat one starts_at per burst: remember the last one that passed.
  let lastStartsAt: string | undefined;

  const labelsOf = (v: unknown): Record<string, string | number | boolean> | undefined => {
    if (!plain(v)) return undefined;
    const out: Record<string, string | number | boolean> = {};
    let n = 0;
    for (const k in v) {
      if (!hasOwn.call(v, k)) return undefined;
      if (k.length > 128 || k === "__proto__") return undefined;
      const x = v[k];
      if (typeof x === "string" ? x.length > 1024 : typeof x === "number" ? !Number.isFinite(x) : typeof x !== "boolean") return undefined;
      out[k] = x as string | number | boolean;
      n++;
    }
    return n <= alerts.max_labels ? out : undefined;
  };

  return function fastParse(raw: unknown): AlertInput | undefined {
    if (!plain(raw)) return undefined;
    const r = raw;
    const service = text(r.service, 128);
    const title = text(r.title, 512);
    if (service === undefined || title === undefined || !SERVICE.test(service)) return undefined;
    const out: Record<string, unknown> = { service, title, kind: "custom", severity: "P2", env: "prod", source: "unknown", labels: {}, status: "firing" };
    for (const k in r) {
      if (!hasOwn.call(r, k)) return undefined;
      const v = r[k];
      if (v === undefined) return undefined;
      switch (k) {
        case "service":
        case "title":
          break;
        case "kind":
          if (typeof v !== "string" || !kinds.has(v)) return undefined;
          out.kind = v;
          break;
        case "severity":
          if (typeof v !== "string" || !(exactSeverities.has(v) || severities.has(v.toLowerCase()))) return undefined;
          out.severity = v;
          break;
        case "env":
          if (typeof v !== "string" || !ENVS.has(v)) return undefined;
          out.env = v;
          break;
        case "source":
        case "fingerprint": {
          const t = text(v, 256);
          if (t === undefined) return undefined;
          out[k] = t;
          break;
        }
        case "message":
          if (typeof v !== "string" || v.length > alerts.max_text_chars) return undefined;
          out.message = v;
          break;
        case "labels": {
          const labels = labelsOf(v);
          if (!labels) return undefined;
          out.labels = labels;
          break;
        }
        case "starts_at":
          if (typeof v !== "string") return undefined;
          if (v !== lastStartsAt) {
            if (!isIsoDateTime(v)) return undefined;
            lastStartsAt = v;
          }
          out.starts_at = v;
          break;
        case "status":
          if (v !== "firing" && v !== "resolved") return undefined;
          out.status = v;
          break;
        case "ends_at":
          if (typeof v !== "string" || !isIsoDateTime(v)) return undefined;
          out.ends_at = v;
          break;
        case "annotations": {
          if (!plain(v)) return undefined;
          for (const a in v) {
            const x = v[a];
            if (!hasOwn.call(v, a) || a === "__proto__" || a.length > 128 || typeof x !== "string" || x.length > alerts.max_text_chars) return undefined;
          }
          out.annotations = { ...v };
          break;
        }
        case "generator_url":
          if (typeof v !== "string" || v.length > 2048) return undefined;
          out.generator_url = v;
          break;
        case "dedupe_ttl_minutes":
          if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_TTL_MINUTES) return undefined;
          out.dedupe_ttl_minutes = v;
          break;
        case "__proto__":
          return undefined;
        default:
          out[k] = v;
      }
    }
    return out as AlertInput;
  };
}


/** A text no store refuses (no NUL, no lone surrogate). */
const storable = (s: string) => unstorableReason(s) === undefined;

/** A plain object of at most `max` own entries with storable keys (≤ 128, not `__proto__`) and values `valueOk` takes. */
function entriesOk(v: unknown, max: number, valueOk: (x: unknown) => boolean): boolean {
  if (!plain(v)) return false;
  let n = 0;
  for (const k in v) {
    if (!hasOwn.call(v, k) || k.length > 128 || k === "__proto__" || !storable(k) || !valueOk(v[k])) return false;
    n++;
  }
  return n <= max;
}

/**
 * A conservative proof that `normalize(raw)` (no subject service) accepts `raw`, without building
 * the normalised alert: true only for a firing or resolve with service and title, known fields
 * that `makeFastAlertParser` accepts, and every text storable. False proves nothing: the caller
 * runs the normalizer, which also gives the reasons. Unknown fields (kept as meta) answer false.
 */
export function makeAlertValidityProof(alerts: AlertRoutingPolicy["alerts"]): (raw: unknown) => boolean {
  const kinds = new Set(alerts.kinds.filter(storable));
  const severityNames = [...SEVERITIES, ...Object.keys(alerts.severity_map)];
  const severities = new Set(severityNames.map((n) => n.toLowerCase()));
  const exactSeverities = new Set(severityNames);
  const textOk = (v: unknown, max: number) => typeof v === "string" && storable(v) && text(v, max) !== undefined;
  const labelOk = (x: unknown) => (typeof x === "string" ? x.length <= 1024 && storable(x) : typeof x === "number" ? Number.isFinite(x) : typeof x === "boolean");
  const annotationOk = (x: unknown) => typeof x === "string" && x.length <= alerts.max_text_chars && storable(x);

  return function provablyValid(raw: unknown): boolean {
    if (!plain(raw) || !textOk(raw.service, 128) || !SERVICE.test((raw.service as string).trim()) || !textOk(raw.title, 512)) return false;
    for (const k in raw) {
      if (!hasOwn.call(raw, k)) return false;
      const v = raw[k];
      let ok: boolean;
      switch (k) {
        case "service":
        case "title":
          ok = true;
          break;
        case "kind":
          ok = typeof v === "string" && kinds.has(v);
          break;
        case "severity":
          ok = typeof v === "string" && (exactSeverities.has(v) || severities.has(v.toLowerCase()));
          break;
        case "env":
          ok = typeof v === "string" && ENVS.has(v);
          break;
        case "source":
        case "fingerprint":
          ok = textOk(v, 256);
          break;
        case "message":
          ok = typeof v === "string" && v.length <= alerts.max_text_chars && storable(v);
          break;
        case "labels":
          ok = entriesOk(v, alerts.max_labels, labelOk);
          break;
        case "annotations":
          ok = entriesOk(v, Infinity, annotationOk);
          break;
        case "starts_at":
        case "ends_at":
          ok = typeof v === "string" && isIsoDateTime(v);
          break;
        case "status":
          ok = v === "firing" || v === "resolved";
          break;
        case "generator_url":
          ok = typeof v === "string" && v.length <= 2048 && storable(v);
          break;
        case "dedupe_ttl_minutes":
          ok = typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_TTL_MINUTES;
          break;
        default:
          ok = false;
      }
      if (!ok) return false;
    }
    return true;
  };
}
