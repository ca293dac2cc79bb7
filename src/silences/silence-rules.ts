/**
 * Silence rules, as Alertmanager's `silence/silence.go` and its v2 API apply them: what a valid
 * silence is (`validateSilence`), a silence compiled once for matching (`compileSilence`), and
 * when a posted silence may replace the stored one in place (`canUpdateInPlace`, `canUpdate`).
 * opsbus adds bounds, so one caller's silence cannot make every alert's check slow.
 */
import type { Labels } from "./labels.js";
import { makeMatcher, MatcherError, type Matcher, type MatchType } from "./matchers.js";
import { silenceState, type Silence, type SilenceMatcher } from "./silence.js";
import { unstorableReason } from "../util/storable.js";

/** Named bounds. No opsbus label value is over 1,024 characters, so no matcher value needs to be. */
export const SILENCE_BOUNDS = {
  maxMatchers: 64,
  maxValueChars: 1024,
  maxLabelNameChars: 128,
  maxCommentBytes: 4096,
} as const;

/** What a POST carries: the stored fields without the ones opsbus sets (id, created_by, updated_at). */
export type SilenceInput = Pick<Silence, "matchers" | "starts_at" | "ends_at" | "comment">;

export interface CompiledSilence {
  readonly id: string;
  readonly silence: Silence;
  readonly startsAtMs: number;
  readonly endsAtMs: number;
  /** In the silence's order. */
  readonly matchers: readonly Matcher[];
  /** All matchers hold on `labels` (a missing label is the empty string). Ignores time. */
  matches(labels: Labels): boolean;
  /** Active at `now` (pending before starts_at, expired from ends_at on). */
  activeAt(nowMs: number): boolean;
}

/** A silence that fails validation; `reasons` are validateSilence's. */
export class SilenceError extends Error {
  override name = "SilenceError";
  constructor(readonly reasons: string[]) {
    super(`invalid silence: ${reasons.join("; ")}`);
  }
}

export function matchType(m: Pick<SilenceMatcher, "is_regex" | "is_equal">): MatchType {
  const equal = m.is_equal !== false;
  return m.is_regex ? (equal ? "=~" : "!~") : equal ? "=" : "!=";
}

/** Label values a memo keeps results for; longer ones are matched afresh (and rarely repeat). */
const MEMO_VALUE_CHARS = 256;
const MEMO_ENTRIES = 512;

/**
 * A regex matcher that remembers its answers for recent values. Label values repeat across alerts
 * (a handful of services, envs, severities), and RE2 costs microseconds per match, so with many
 * silences the memo is what keeps matching cheap. Equality matchers are returned as they are.
 */
export function cachedMatcher(m: Matcher): Matcher {
  if (m.type === "=" || m.type === "!=") return m;
  const memo = new Map<string, boolean>();
  const matches = (v: string): boolean => {
    if (v.length > MEMO_VALUE_CHARS) return m.matches(v);
    const known = memo.get(v);
    if (known !== undefined) return known;
    const r = m.matches(v);
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    memo.set(v, r);
    return r;
  };
  return { name: m.name, type: m.type, value: m.value, matches };
}

/** `text` quoted, cut to a readable length (a refused value may be 100 KB). */
function shown(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 61)}...` : text);
}

/** Why matcher `i` is invalid, or its compiled form. Never throws. */
function checkMatcher(m: unknown, i: number): { reason: string } | { matcher: Matcher } {
  const at = `invalid label matcher ${i}`;
  if (m === null || typeof m !== "object") return { reason: `${at}: not an object` };
  const { name, value, is_regex, is_equal } = m as Record<string, unknown>;
  if (typeof name !== "string" || name.length === 0 || name.length > SILENCE_BOUNDS.maxLabelNameChars || unstorableReason(name)) {
    return { reason: `${at}: invalid label name ${typeof name === "string" ? shown(name) : String(name)} (1 to ${SILENCE_BOUNDS.maxLabelNameChars} characters of valid Unicode)` };
  }
  if (typeof is_regex !== "boolean" || (is_equal !== undefined && typeof is_equal !== "boolean")) {
    return { reason: `${at}: isRegex and isEqual must be booleans` };
  }
  if (typeof value !== "string") return { reason: `${at}: invalid label value ${String(value)}` };
  if (value.length > SILENCE_BOUNDS.maxValueChars) {
    return { reason: `${at}: ${is_regex ? "regular expression" : "value"} is ${value.length} characters, at most ${SILENCE_BOUNDS.maxValueChars}` };
  }
  if (unstorableReason(value)) return { reason: `${at}: invalid label value ${shown(value)}: ${unstorableReason(value)}` };
  try {
    return { matcher: makeMatcher(name, matchType({ is_regex, is_equal: is_equal !== false }), value) };
  } catch (err) {
    if (err instanceof MatcherError) return { reason: `${at}: invalid regular expression ${shown(value)}: ${err.message}` };
    throw err;
  }
}

/** Alertmanager's `matchesEmpty`: only `=` and `=~` count; a negative matcher never does. */
function matchesEmpty(m: Matcher): boolean {
  return (m.type === "=" || m.type === "=~") && m.matches("");
}

function compileMatchers(matchers: unknown): { reasons: string[]; compiled: Matcher[] } {
  if (!Array.isArray(matchers) || matchers.length === 0) return { reasons: ["at least one matcher required"], compiled: [] };
  if (matchers.length > SILENCE_BOUNDS.maxMatchers) {
    return { reasons: [`${matchers.length} matchers, at most ${SILENCE_BOUNDS.maxMatchers}`], compiled: [] };
  }
  const reasons: string[] = [];
  const compiled: Matcher[] = [];
  matchers.forEach((m, i) => {
    const r = checkMatcher(m, i);
    if ("reason" in r) reasons.push(r.reason);
    else compiled.push(r.matcher);
  });
  if (!reasons.length && compiled.every(matchesEmpty)) reasons.push("at least one matcher must not match the empty string");
  return { reasons, compiled };
}

const timeOf = (v: unknown): number => (typeof v === "string" ? Date.parse(v) : NaN);

/**
 * Every reason `input` is not a valid silence; empty when it is. Alertmanager's checks (matchers,
 * label names and values, regexes, one matcher that does not match the empty string, start before
 * end) plus opsbus's bounds. With `now`, an end in the past is refused too, as Alertmanager's API
 * refuses it on every POST; leave `now` out to re-check a stored silence, which may have expired.
 * Never throws, whatever `input` holds.
 */
export function validateSilence(input: SilenceInput, now?: Date): string[] {
  const raw = (input ?? {}) as Partial<Record<keyof SilenceInput, unknown>>;
  const { reasons } = compileMatchers(raw.matchers);
  const starts = timeOf(raw.starts_at);
  const ends = timeOf(raw.ends_at);
  if (Number.isNaN(starts)) reasons.push("invalid start timestamp");
  if (Number.isNaN(ends)) reasons.push("invalid end timestamp");
  if (!Number.isNaN(starts) && !Number.isNaN(ends) && starts >= ends) reasons.push("start time must be before end time");
  if (now && !Number.isNaN(ends) && ends < now.getTime()) reasons.push("end time can't be in the past");
  if (raw.comment !== undefined && typeof raw.comment !== "string") reasons.push("comment must be a string");
  else if (typeof raw.comment === "string") {
    const bytes = Buffer.byteLength(raw.comment, "utf8");
    if (bytes > SILENCE_BOUNDS.maxCommentBytes) reasons.push(`comment is ${bytes} bytes, at most ${SILENCE_BOUNDS.maxCommentBytes}`);
  }
  return reasons;
}

/** Cheap checks first: equality before regex, so most non-matching alerts never reach RE2. */
const cost = (m: Matcher) => (m.type === "=" || m.type === "!=" ? 0 : 1);

/**
 * The silence with its matchers compiled once. Throws SilenceError with validateSilence's reasons
 * (without the end-in-the-past check) when it is not a valid silence: validate before storing.
 */
export function compileSilence(s: Silence): CompiledSilence {
  const { reasons, compiled } = compileMatchers(s.matchers);
  const startsAtMs = Date.parse(s.starts_at);
  const endsAtMs = Date.parse(s.ends_at);
  if (reasons.length || Number.isNaN(startsAtMs) || Number.isNaN(endsAtMs)) throw new SilenceError(validateSilence(s));
  const matchers = compiled.map(cachedMatcher);
  const ordered = [...matchers].sort((a, b) => cost(a) - cost(b));
  return {
    id: s.id,
    silence: s,
    startsAtMs,
    endsAtMs,
    matchers,
    matches(labels) {
      for (const m of ordered) if (!m.matches(Object.hasOwn(labels, m.name) ? labels[m.name]! : "")) return false;
      return true;
    },
    activeAt: (nowMs) => startsAtMs <= nowMs && nowMs < endsAtMs,
  };
}

function sameMatchers(a: readonly SilenceMatcher[], b: readonly SilenceMatcher[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i]!;
      return x.name === y.name && x.value === y.value && matchType(x) === matchType(y);
    })
  );
}

const unixSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/**
 * Alertmanager's `canUpdate`: may `next` (posted with `prev`'s id) replace `prev` in place without
 * rewriting history? Only with the same matchers, in the same order; an expired silence never; an
 * active one keeps its start (to the second) and may not end in the past; a pending one may not
 * start in the past. Otherwise Alertmanager expires `prev` (unless already expired) and creates a
 * new silence with a new id.
 */
export function canUpdateInPlace(prev: Silence, next: Pick<Silence, "matchers" | "starts_at" | "ends_at">, now: Date): boolean {
  if (!sameMatchers(prev.matchers, next.matchers)) return false;
  switch (silenceState(prev, now)) {
    case "active":
      return unixSeconds(prev.starts_at) === unixSeconds(next.starts_at) && Date.parse(next.ends_at) >= now.getTime();
    case "pending":
      return Date.parse(next.starts_at) >= now.getTime();
    case "expired":
      return false;
  }
}
