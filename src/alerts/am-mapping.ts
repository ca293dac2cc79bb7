/**
 * One Alertmanager API v2 postable alert → the opsbus alert payload (the entry of an intake
 * batch), with Alertmanager's own checks and defaults: empty label values dropped, at least one
 * label, valid label names, `startsAt` missing (or Go's zero time `0001-01-01T00:00:00Z`) = the
 * `endsAt` when only that is set, else left out: the worker starts it at the receipt time and
 * lets it join the active firing, as Alertmanager merges it (`IngestItem.joins_firing`);
 * `startsAt` not after `endsAt`. An `endsAt` already past
 * (Prometheus's resolved alerts) makes the entry `status: "resolved"`; no `endsAt` leaves `ends_at`
 * unset, so the ingest side applies `resolve_timeout_minutes`.
 */
import type { AlertmanagerIntake } from "../config/intake-policy.js";
import type { OpsEnv } from "../config/env.js";
import { OPS_ENVS } from "../config/env.js";
import { canonicalIsoMs } from "../util/iso-time.js";
import { SEVERITIES, type AlertRecord, type Severity } from "../subjects/index.js";
import { labelSetFingerprint } from "./am-fingerprint.js";

/** An Alertmanager alert as an opsbus alert payload: the stored record's fields, plus what only Alertmanager sends. */
export type AmAlertPayload = Pick<AlertRecord, "service" | "title" | "kind" | "severity" | "env" | "source" | "message" | "fingerprint"> & Partial<Pick<AlertRecord, "starts_at">> & {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: "firing" | "resolved";
  ends_at?: string;
  generator_url?: string;
};

export type Mapped = { ok: true; payload: AmAlertPayload } | { ok: false; reasons: string[] };

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Go's `time.RFC3339` layout as Alertmanager parses it: an upper-case `T` and `Z` (no space, no `t`). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Go's zero time.Time, as Prometheus and amtool send an unset time: anything before year 2 is unset. */
const GO_ZERO_BEFORE_MS = Date.parse("0002-01-01T00:00:00Z");
const MAX_TITLE = 512;
const SERVICE_OK = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const ENVS = new Set<string>(OPS_ENVS);
const PRIORITIES = new Set<string>(SEVERITIES);

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Label names seen valid: senders repeat a handful of them on every alert. Bounded; cleared when full. */
const validNames = new Set<string>();
const MAX_REMEMBERED_NAMES = 4096;
function validName(name: string): boolean {
  if (validNames.has(name)) return true;
  if (!LABEL_NAME.test(name)) return false;
  if (validNames.size >= MAX_REMEMBERED_NAMES) validNames.clear();
  validNames.add(name);
  return true;
}
const hasOwn = Object.prototype.hasOwnProperty;

/** A `labelSet` (string → string) field; reasons name the offending key. */
function stringMap(v: unknown, field: string, reasons: string[]): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) {
    reasons.push(`${field}: must be an object of strings`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const k in v) {
    if (!hasOwn.call(v, k)) continue;
    const x = v[k];
    if (typeof x === "string") out[k] = x;
    else reasons.push(`${field}.${k}: must be a string, got ${x === null ? "null" : typeof x}`);
  }
  return out;
}

/** A time as milliseconds and as the ISO text the payload carries. */
interface Time {
  ms: number;
  iso: string;
}
const NOT_A_TIME: Time = { ms: Number.NaN, iso: "" };

/**
 * Parsed times, remembered: a Prometheus batch shares its `endsAt`, and re-sends repeat `startsAt`.
 * Bounded; cleared when full.
 */
const parsedTimes = new Map<string, Time>();
const MAX_REMEMBERED_TIMES = 1024;

function parseTime(v: string): Time {
  // Already in toISOString's form (as JavaScript senders write it, a new text on every alert):
  // valid RFC 3339 as it is, so neither the pattern nor the memory is needed.
  const canonicalMs = canonicalIsoMs(v);
  if (!Number.isNaN(canonicalMs)) return { ms: canonicalMs, iso: v };
  let t = parsedTimes.get(v);
  if (t === undefined) {
    const ms = RFC3339.test(v) ? Date.parse(v) : Number.NaN;
    t = Number.isNaN(ms) ? NOT_A_TIME : { ms, iso: new Date(ms).toISOString() };
    if (parsedTimes.size >= MAX_REMEMBERED_TIMES) parsedTimes.clear();
    parsedTimes.set(v, t);
  }
  return t;
}

/** The time, `undefined` for absent or Go's zero time; a reason for anything unparseable. */
function timeOf(v: unknown, field: string, reasons: string[]): Time | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const t = typeof v === "string" ? parseTime(v) : NOT_A_TIME;
  if (Number.isNaN(t.ms)) {
    reasons.push(`${field}: ${JSON.stringify(v)} is not an RFC 3339 date-time`);
    return undefined;
  }
  return t.ms < GO_ZERO_BEFORE_MS ? undefined : t;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * A `generatorURL` Alertmanager takes (its `format: uri`, Go's `url.ParseRequestURI`): an absolute
 * path (`/graph?g0.expr=…`, as Prometheus without an external URL sends it) or a URI with a
 * scheme, whose host, if it names one, parses; never a control character. `#frag`, `?q=1`,
 * `relative/path` and `http://a b/` are refused, as Alertmanager refuses them.
 */
function isRequestUri(v: string): boolean {
  if (CONTROL.test(v)) return false;
  if (v.startsWith("/")) return true;
  const scheme = SCHEME.exec(v);
  if (!scheme) return false;
  return !v.startsWith("//", scheme[0].length) || URL.canParse(v);
}

/** `{a="b", c="d"}`, Alertmanager's rendering of a label set: the title of last resort. */
function labelSetText(labels: Record<string, string>): string {
  return `{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(", ")}}`;
}

/** Not a valid service name as it is: invalid characters become `_` rather than refusing the alert. */
function serviceName(raw: string): string {
  if (SERVICE_OK.test(raw) && raw.length <= 128) return raw;
  const cleaned = raw.replace(/[^A-Za-z0-9_.:-]/g, "_").replace(/^[^A-Za-z0-9]+/, "").slice(0, 128);
  return cleaned;
}

export interface MapperLimits {
  /** The kinds the alert routing policy allows; a `kind` label outside them gives the default. */
  kinds: readonly string[];
  max_text_chars: number;
}

export function makeAmMapper(cfg: AlertmanagerIntake, limits: MapperLimits) {
  const kinds = new Set(limits.kinds);
  const firstLabel = (labels: Record<string, string>, names: readonly string[]): string | undefined => {
    for (const n of names) if (Object.hasOwn(labels, n)) return labels[n];
    return undefined;
  };
  // `labels.<name>` / `annotations.<name>`, split once.
  const sourcesOf = (sources: readonly string[]) =>
    sources.map((src) => ({ fromLabels: src.slice(0, src.indexOf(".")) === "labels", name: src.slice(src.indexOf(".") + 1) }));
  const titleSources = sourcesOf(cfg.title);
  const messageSources = sourcesOf(cfg.message);
  const firstText = (sources: ReturnType<typeof sourcesOf>, labels: Record<string, string>, annotations: Record<string, string>): string | undefined => {
    for (const { fromLabels, name } of sources) {
      const from = fromLabels ? labels : annotations;
      const v = Object.hasOwn(from, name) ? from[name]!.trim() : "";
      if (v) return v;
    }
    return undefined;
  };
  const envOf = (raw: string | undefined): OpsEnv => {
    const v = raw?.toLowerCase();
    if (v === undefined) return cfg.defaults.env;
    if (Object.hasOwn(cfg.values.env, v)) return cfg.values.env[v]!;
    return ENVS.has(v) ? (v as OpsEnv) : cfg.defaults.env;
  };
  const severityOf = (raw: string | undefined): Severity => {
    if (raw === undefined) return cfg.defaults.severity;
    const v = raw.toLowerCase();
    if (Object.hasOwn(cfg.values.severity, v)) return cfg.values.severity[v]!;
    return PRIORITIES.has(raw.toUpperCase()) ? (raw.toUpperCase() as Severity) : cfg.defaults.severity;
  };

  return function mapAlert(raw: unknown, now: Date): Mapped {
    if (!isRecord(raw)) return { ok: false, reasons: ["must be a JSON object"] };
    const reasons: string[] = [];
    if (raw.labels === undefined || raw.labels === null) reasons.push("labels: required");
    // The labels as kept (empty values dropped), read in one pass; name reasons follow the type reasons.
    const labels: Record<string, string> = {};
    let count = 0;
    let badNames: string[] | undefined;
    if (isRecord(raw.labels)) {
      const sent = raw.labels;
      for (const k in sent) {
        if (!hasOwn.call(sent, k)) continue;
        const v = sent[k];
        if (typeof v !== "string") {
          reasons.push(`labels.${k}: must be a string, got ${v === null ? "null" : typeof v}`);
          continue;
        }
        // `labels.__proto__ = v` would set no key: such a label is dropped, as an empty one is.
        if (v === "" || k === "__proto__") continue;
        labels[k] = v;
        count++;
        if (!validName(k)) (badNames ??= []).push(`labels: invalid name ${JSON.stringify(k)}`);
      }
    } else if (raw.labels !== undefined && raw.labels !== null) reasons.push("labels: must be an object of strings");
    const annotations = stringMap(raw.annotations, "annotations", reasons);
    if (badNames) reasons.push(...badNames);
    if (raw.labels !== undefined && count === 0) reasons.push("labels: at least one label pair required");
    const sentStart = timeOf(raw.startsAt, "startsAt", reasons);
    const endsAt = timeOf(raw.endsAt, "endsAt", reasons);
    if (raw.generatorURL !== undefined && raw.generatorURL !== null && typeof raw.generatorURL !== "string") reasons.push("generatorURL: must be a string");
    else if (typeof raw.generatorURL === "string" && raw.generatorURL !== "" && !isRequestUri(raw.generatorURL)) {
      reasons.push(`generatorURL: must be of type uri: ${JSON.stringify(raw.generatorURL)}`);
    }
    const startsAt = sentStart ?? endsAt;
    if (endsAt !== undefined && startsAt !== undefined && endsAt.ms < startsAt.ms) reasons.push("startsAt: start time must be before end time");
    if (reasons.length) return { ok: false, reasons };

    const service = serviceName(firstLabel(labels, cfg.labels.service) ?? "") || cfg.defaults.service;
    const kindLabel = firstLabel(labels, cfg.labels.kind);
    const title = (firstText(titleSources, labels, annotations) ?? labelSetText(labels)).slice(0, MAX_TITLE);
    const message = firstText(messageSources, labels, annotations)?.slice(0, limits.max_text_chars);
    const generatorUrl = typeof raw.generatorURL === "string" && raw.generatorURL !== "" ? raw.generatorURL : undefined;
    const kind = kindLabel !== undefined && kinds.has(kindLabel) ? kindLabel : cfg.defaults.kind;
    const severity = severityOf(firstLabel(labels, cfg.labels.severity));
    const env = envOf(firstLabel(labels, cfg.labels.env));
    const source = firstLabel(labels, cfg.labels.source)?.slice(0, 256) || cfg.defaults.source;
    const fingerprint = labelSetFingerprint(labels);
    const status = endsAt !== undefined && endsAt.ms <= now.getTime() ? "resolved" : "firing";
    // Fields in this order (message in the middle): the entry's JSON is what the batch carries.
    const payload: AmAlertPayload =
      message !== undefined
        ? { service, title, kind, severity, env, source, message, fingerprint, labels, annotations, status }
        : { service, title, kind, severity, env, source, fingerprint, labels, annotations, status };
    if (startsAt !== undefined) payload.starts_at = startsAt.iso;
    if (endsAt !== undefined) payload.ends_at = endsAt.iso;
    if (generatorUrl !== undefined) payload.generator_url = generatorUrl;
    return { ok: true, payload };
  };
}
