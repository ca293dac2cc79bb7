import { scrubSecrets } from "../log.js";
import { cutAtCodePoint, storableText } from "./storable.js";

/** Bounds on what an audit record keeps of a call's params. */
export const REDACTION_BOUNDS = {
  maxStringChars: 512,
  maxDepth: 6,
  maxArrayItems: 100,
  maxKeys: 200,
} as const;

export const REDACTED = "***";

/**
 * Params as the audit log may keep them: values under secret-looking keys (case-insensitive
 * substring of any `redactKeys` entry) become `***`, bearer tokens and DSN passwords inside
 * strings are masked, long strings are cut (never inside a surrogate pair), deep or wide
 * structures are trimmed. Every string and key comes out storable: a NUL becomes the text
 * `\u0000` and a lone surrogate U+FFFD, so no caller's input can make the audit insert fail.
 */
export function redactParams(params: unknown, redactKeys: readonly string[]): Record<string, unknown> {
  const needles = redactKeys.map((k) => k.toLowerCase());
  const out = redactValue(params, needles, 0);
  if (out !== null && typeof out === "object" && !Array.isArray(out)) return out as Record<string, unknown>;
  return out === undefined ? {} : { value: out };
}

function isSecretKey(key: string, needles: readonly string[]): boolean {
  const k = key.toLowerCase();
  return needles.some((n) => k.includes(n));
}

function redactValue(value: unknown, needles: readonly string[], depth: number): unknown {
  // Scrub only what is kept (plus a margin, so a secret straddling the cut is still masked).
  if (typeof value === "string") {
    return cutString(scrubSecrets(storableText(cutAtCodePoint(value, REDACTION_BOUNDS.maxStringChars + 1100))), value.length);
  }
  if (value === null || typeof value !== "object") {
    return typeof value === "bigint" || typeof value === "function" || typeof value === "symbol"
      ? storableText(String(value))
      : value;
  }
  if (depth >= REDACTION_BOUNDS.maxDepth) return "[depth limit]";
  if (Array.isArray(value)) {
    const items = value.slice(0, REDACTION_BOUNDS.maxArrayItems).map((v) => redactValue(v, needles, depth + 1));
    if (value.length > REDACTION_BOUNDS.maxArrayItems) items.push(`[${value.length - items.length} more items]`);
    return items;
  }
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value);
  for (const [key, v] of entries.slice(0, REDACTION_BOUNDS.maxKeys)) {
    // defineProperty: a `__proto__` key stays a key instead of replacing the record's prototype.
    Object.defineProperty(out, storableText(key), {
      value: isSecretKey(key, needles) ? REDACTED : redactValue(v, needles, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  if (entries.length > REDACTION_BOUNDS.maxKeys) out["[more keys]"] = entries.length - REDACTION_BOUNDS.maxKeys;
  return out;
}

function cutString(s: string, originalLength: number): string {
  const max = REDACTION_BOUNDS.maxStringChars;
  return originalLength > max || s.length > max ? `${cutAtCodePoint(s, max)}…[cut ${originalLength - max} chars]` : s;
}
