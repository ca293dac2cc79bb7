/**
 * What the ingest worker will refuse in a batch entry, asked before an HTTP intake answers: an
 * intake must not say "accepted" for an alert the worker then rejects (the sender would not retry
 * and the alert would be lost). The same two checks the worker runs: the entry's encoded size
 * (`alerts.max_payload_bytes`) and the normalizer.
 */
import type { AlertRoutingPolicy } from "../config/policies.js";
import { makeAlertNormalizer } from "./normalize.js";

/** Reasons a batch entry would be refused; empty when the worker takes it. */
export type EntryCheck = (entry: unknown) => string[];

/** The size rule alone, as `prepareBatch` applies it (`payload_too_large: …`). */
export function entryTooLarge(entry: unknown, maxBytes: number): string | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(entry) ?? "null");
  return bytes > maxBytes ? `payload_too_large: ${bytes} bytes, limit ${maxBytes}` : undefined;
}

export function makeEntryCheck(policy: AlertRoutingPolicy, now?: () => Date): EntryCheck {
  const normalize = makeAlertNormalizer(policy, now);
  const maxBytes = policy.alerts.max_payload_bytes;
  return (entry) => {
    const tooLarge = entryTooLarge(entry, maxBytes);
    if (tooLarge) return [tooLarge];
    const normalized = normalize(entry);
    return normalized.ok ? [] : normalized.reasons;
  };
}
