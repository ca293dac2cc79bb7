/**
 * What one send attempt means for the notification, pure: delivered, tried again after a backoff
 * (exponential with jitter, at least what the receiver's Retry-After asked), or failed for good
 * (a 4xx other than 429, `max_attempts` spent, or `give_up_after` passed since it was planned).
 */
import { transientBackoffMs } from "../util/transient.js";
import type { AttemptRecord, NotificationRecord, SendResult } from "./types.js";

export interface DeliverySettings {
  maxAttempts: number;
  giveUpAfterMs: number;
  /** First retry waits about this long, doubling per attempt, capped at `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export const DEFAULT_RETRY = { retryBaseMs: 1_000, retryMaxMs: 5 * 60_000 } as const;

export type AfterAttempt =
  | { kind: "delivered"; record: NotificationRecord }
  | { kind: "retry"; record: NotificationRecord; delayMs: number }
  | { kind: "failed"; record: NotificationRecord; error: string };

export function afterAttempt(
  held: NotificationRecord,
  result: SendResult,
  s: DeliverySettings,
  at: { now: Date; node_id: string; latency_ms: number },
): AfterAttempt {
  const attempt: AttemptRecord = {
    attempt: held.attempts.length + 1,
    at: at.now.toISOString(),
    outcome: result.outcome,
    node_id: at.node_id,
    latency_ms: Math.round(at.latency_ms),
    ...(result.status !== undefined ? { status: result.status } : {}),
    ...(result.outcome !== "delivered" ? { error: result.error } : {}),
  };
  const { sending_by: _by, sending_until: _until, ...rest } = held;
  const base: NotificationRecord = { ...rest, attempts: [...held.attempts, attempt], updated_at: attempt.at };
  if (result.outcome === "delivered") return { kind: "delivered", record: { ...base, status: "delivered", delivered_at: attempt.at } };
  const fail = (error: string): AfterAttempt => ({ kind: "failed", record: { ...base, status: "failed", failed_at: attempt.at, error }, error });
  if (result.outcome === "failed") return fail(result.error);
  if (attempt.attempt >= s.maxAttempts) return fail(`gave up after ${attempt.attempt} attempts: ${result.error}`);
  const delayMs = Math.max(result.retry_after_ms ?? 0, transientBackoffMs(attempt.attempt, { baseMs: s.retryBaseMs, maxMs: s.retryMaxMs }));
  const deadline = Date.parse(held.created_at) + s.giveUpAfterMs;
  if (at.now.getTime() + delayMs > deadline) return fail(`gave up after ${attempt.attempt} attempts (give_up_after reached): ${result.error}`);
  return { kind: "retry", record: base, delayMs };
}
