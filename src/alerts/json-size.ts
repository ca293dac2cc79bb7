/**
 * How many UTF-8 bytes `JSON.stringify(v)` takes at most, without building the text: the ingest
 * worker checks every batch entry against `alerts.max_payload_bytes`, and encoding each entry
 * again only to measure it was a tenth of the worker's CPU per alert.
 */

/** JSON.stringify of a finite number is at most 25 characters (`-0.0000012345678901234567`). */
const MAX_NUMBER_CHARS = 25;
/** Past this nesting the bound gives up (JSON.stringify recurses too; the caller measures exactly). */
const MAX_DEPTH = 64;

/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(v))` for a value JSON.parse made, or
 * Infinity once it passes `limit` or nests deeper than 64. A string's UTF-16 unit is at most 6
 * bytes (`\uXXXX`) plus its quotes; a key also takes `:` and `,`.
 */
export function jsonBytesBound(v: unknown, limit: number): number {
  return bound(v, limit, 0);
}

function bound(v: unknown, limit: number, depth: number): number {
  switch (typeof v) {
    case "string":
      return 2 + 6 * v.length;
    case "number":
      return MAX_NUMBER_CHARS;
    case "boolean":
      return 5;
    case "object":
      break;
    default:
      return 4; // null, and what JSON.stringify writes as null
  }
  if (v === null) return 4;
  if (depth >= MAX_DEPTH) return Infinity;
  let n = 2;
  if (Array.isArray(v)) {
    for (const x of v) {
      n += 1 + bound(x, limit, depth + 1);
      if (n > limit) return Infinity;
    }
    return n;
  }
  for (const k in v) {
    n += 4 + 6 * k.length + bound((v as Record<string, unknown>)[k], limit, depth + 1);
    if (n > limit) return Infinity;
  }
  return n;
}

/** The exact UTF-8 size of `JSON.stringify(v)` when it may be over `limit`, else undefined (it is not). */
export function jsonBytesOver(v: unknown, limit: number): number | undefined {
  if (jsonBytesBound(v, limit) <= limit) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(v) ?? "null");
  return bytes > limit ? bytes : undefined;
}
