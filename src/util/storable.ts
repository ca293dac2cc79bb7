/**
 * Text every store can keep. Postgres refuses two things JavaScript strings carry happily: the NUL
 * character (text columns: 22021; `\u0000` in jsonb: 22P05) and lone UTF-16 surrogates (invalid
 * UTF-8: 22P02/22021). One such string fails a whole batch insert, so it is refused (alerts) or
 * replaced (audit) at the edge, and a store batch that still fails on one record is split to
 * isolate it (see `isRecordError`).
 */

/** `String.prototype.isWellFormed/toWellFormed` (ES2024, Node 20), not in this project's lib. */
interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}
const wf = (s: string) => s as unknown as WellFormed;

/** Why `s` cannot be stored as it is, or undefined when it can. */
export function unstorableReason(s: string): string | undefined {
  if (s.includes("\u0000")) return "contains a NUL character (\\u0000)";
  if (!wf(s).isWellFormed()) return "contains a lone UTF-16 surrogate (not valid Unicode)";
  return undefined;
}

/**
 * The first key or string inside `v` no store could keep, as `<path>: <why>` (keys named as
 * `<path>: key "<k>" …`), depth-first; undefined when all are storable. For an edge that refuses
 * such input (alerts; tool params, where a NUL in a filter made Postgres fail the query).
 */
export function findUnstorable(v: unknown, path: string, depth = 0): string | undefined {
  if (typeof v === "string") {
    const why = unstorableReason(v);
    return why ? `${path}: ${why}` : undefined;
  }
  if (v === null || typeof v !== "object" || depth > 64) return undefined;
  for (const [k, x] of Object.entries(v)) {
    const keyWhy = unstorableReason(k);
    if (keyWhy) return `${path}: key ${JSON.stringify(k)} ${keyWhy}`;
    const inner = findUnstorable(x, `${path}.${k}`, depth + 1);
    if (inner) return inner;
  }
  return undefined;
}

/** What every Postgres column takes: a NUL shows as the text `\u0000`, a lone surrogate as U+FFFD. */
export function storableText(s: string): string {
  const w = wf(s);
  const well = w.isWellFormed() ? s : w.toWellFormed();
  return well.includes("\u0000") ? well.replaceAll("\u0000", "\\u0000") : well;
}

/** `s` cut to at most `max` UTF-16 units without splitting a surrogate pair. */
export function cutAtCodePoint(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * A copy of a JSON-like value with every string and key made storable. Leaves non-plain values as
 * JSON.stringify would see them; keys stay own data properties (a `__proto__` key stays a key).
 */
export function storableDeep(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return storableText(v);
  if (v === null || typeof v !== "object" || depth > 64) return v;
  if (Array.isArray(v)) return v.map((x) => storableDeep(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    Object.defineProperty(out, storableText(k), { value: storableDeep(x, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Postgres SQLSTATE classes that mean "this data", not "this database": 22 data exception, 23 integrity, 54 limits. */
const RECORD_SQLSTATE = /^(22|23|54)[0-9A-Z]{3}$/;
/**
 * JavaScript errors a record itself causes: an uncloneable value (a function as a role), runaway
 * nesting or length. Not TypeError: that is far more often a bug in the store's code, which must
 * not turn every record into a dead letter.
 */
const RECORD_ERROR_NAMES = new Set(["DataCloneError", "RangeError"]);

/**
 * True when a store call failed because of what it was given (a bad record), so running it again
 * would fail again: the batch is split to find the record. Anything else (connection refused,
 * timeouts, pool exhaustion, disk full, serialization failures) is transient and retried whole.
 */
export function isRecordError(err: unknown): boolean {
  if (err === null || typeof err !== "object") return false;
  const e = err as { code?: unknown; name?: unknown };
  if (typeof e.code === "string" && RECORD_SQLSTATE.test(e.code)) return true;
  return typeof e.name === "string" && RECORD_ERROR_NAMES.has(e.name) && typeof e.code !== "string";
}

/** A short description of a store error for reasons and dead letters: SQLSTATE and message. */
export function describeStoreError(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === "string" ? `${e.code} ` : "";
  return `${code}${typeof e.message === "string" ? e.message : String(err)}`.slice(0, 300);
}
