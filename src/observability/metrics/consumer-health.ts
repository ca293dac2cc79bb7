/**
 * Whether a durable consumer's work is moving, from JetStream consumer info alone (pure; the
 * reading is in `src/health.ts`).
 *
 * - missing: work waits (`num_pending` > 0), nobody holds any (`num_ack_pending` = 0) and nobody
 *   asks for it (`num_waiting` = 0 pull requests, not push-bound): no worker of the role runs.
 *   A worker between two pulls looks like this for a moment, so the caller confirms on a second
 *   read that nothing was delivered in between.
 * - stalled: work waits — new messages (`num_pending` > 0) or messages going round again
 *   (`num_redelivered` > 0) — and neither the ack floor nor the delivered sequence has moved
 *   for the stall window: a dead or hung holder, a poison message nak'd forever, a full
 *   `max_ack_pending`. A claim held by an agent within its lock, a delayed retry, or one slow
 *   message while new work still flows are not stalls.
 */

/** What health reads of one consumer (`jsm.consumers.info`). */
export interface ConsumerSample {
  stream: string;
  consumer: string;
  /** The role whose workers pull from it (alerts-in, triage, graph-runs, jobs). */
  role: string;
  /** Not yet delivered. */
  pending: number;
  /** Delivered and not yet settled (held by workers or claimers, or waiting for a delayed retry). */
  ack_pending: number;
  /** Messages delivered more than once and not yet settled. */
  redelivered: number;
  /** Pull requests waiting at the server. */
  waiting: number;
  push_bound: boolean;
  /** Stream sequence below which everything is acked. */
  ack_floor: number;
  /** Stream sequence of the last new message delivered. */
  delivered: number;
}

export type ConsumerState = "ok" | "missing" | "stalled";

export interface ConsumerVerdict {
  state: ConsumerState;
  /** Seconds the consumer's work has waited without progress (0 when it moves or nothing waits). */
  stuck_s: number;
  /** Why it is not ok, naming the consumer and the role to look at. */
  reason?: string;
}

/** No worker asks for this consumer's work although some waits (before confirmation). */
export function looksMissing(s: ConsumerSample): boolean {
  return s.pending > 0 && s.ack_pending === 0 && s.waiting === 0 && !s.push_bound;
}

const waits = (s: ConsumerSample) => s.pending > 0 || s.redelivered > 0;

/** Remembers, per consumer, since when its work has waited at the same ack floor and delivered sequence. */
export class StallTracker {
  private readonly since = new Map<string, { at: string; ms: number }>();

  /** Milliseconds `s` has waited without progress as of `nowMs` (0 on progress or nothing waiting). */
  observe(s: ConsumerSample, nowMs: number): number {
    const id = `${s.stream}/${s.consumer}`;
    if (!waits(s)) {
      this.since.delete(id);
      return 0;
    }
    const at = `${s.ack_floor}:${s.delivered}`;
    const seen = this.since.get(id);
    if (!seen || seen.at !== at) {
      this.since.set(id, { at, ms: nowMs });
      return 0;
    }
    return Math.max(0, nowMs - seen.ms);
  }
}

/** The verdict on one consumer: `missing` (already confirmed by the caller) before `stalled`. */
export function judge(s: ConsumerSample, opts: { missing: boolean; stuckMs: number; stallMs: number }): ConsumerVerdict {
  const stuck_s = Math.round(opts.stuckMs / 1000);
  if (opts.missing) {
    return { state: "missing", stuck_s, reason: `${s.consumer}: ${s.pending} pending, no active pull (no ${s.role} worker is pulling)` };
  }
  if (opts.stuckMs >= opts.stallMs) {
    const held = s.ack_pending ? `, ${s.ack_pending} held` : "";
    const again = s.redelivered ? `, ${s.redelivered} redelivered` : "";
    const pull = s.waiting === 0 && !s.push_bound ? ", no active pull" : "";
    return {
      state: "stalled",
      stuck_s,
      reason: `${s.consumer}: stalled for ${stuck_s}s (ack floor ${s.ack_floor}, ${s.pending} pending${held}${again}${pull}; check the ${s.role} workers and their logs)`,
    };
  }
  return { state: "ok", stuck_s };
}
