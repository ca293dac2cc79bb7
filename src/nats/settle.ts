/**
 * The one place that speaks JetStream's settle protocol (ack, nak with a delay, term with a
 * reason, working) and the one retry-delay policy every consumer uses. A delivery is settled
 * either through the `JsMsg` this process pulled, or, for a claim held by a caller, by publishing
 * the protocol body to the delivery's ack subject from any connection (see alerts/work.ts).
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { ServerFeatures } from "./features.js";
import { transientBackoffMs } from "../util/transient.js";

/** The first retry waits about this long; each further delivery doubles it. */
export const RETRY_BASE_MS = 1_000;
/** No retry waits longer than this. */
export const RETRY_MAX_MS = 30_000;
/** `+TERM <reason>`: longer reasons are cut (the server keeps them in an advisory, not for reading). */
export const TERM_REASON_MAX_CHARS = 200;

/**
 * Delay of the nak for a message that arrives while its worker stops. An immediate nak would
 * send it straight back to the same pull, still open until it closes or expires: a ping-pong
 * that spends the message's max_deliver in milliseconds, so it dies without ever being handled.
 * Longer than any worker's pull expiry, so the redelivery goes to a live worker.
 */
export const STOPPING_NAK_DELAY_MS = 6_000;

/** Milliseconds before delivery `deliveryCount + 1`, given how many deliveries were made. */
export type RetryDelay = (deliveryCount: number) => number;

/**
 * The retry-delay policy: exponential from RETRY_BASE_MS, capped at RETRY_MAX_MS, with up to 25%
 * jitter so deliveries that failed together do not come back together.
 */
export const retryDelayMs: RetryDelay = (deliveryCount) => transientBackoffMs(deliveryCount, { baseMs: RETRY_BASE_MS, maxMs: RETRY_MAX_MS });

/**
 * The same policy given as an operator's schedule (the alert work queue's `backoff_seconds`, which
 * `claim`/`fail` callers see in `retry_at`): delivery n waits entry n, the last entry repeats.
 */
export function scheduledRetryDelay(backoffSeconds: readonly number[], fallbackSeconds = 60): RetryDelay {
  return (deliveryCount) => (backoffSeconds[Math.min(Math.max(deliveryCount, 1) - 1, backoffSeconds.length - 1)] ?? fallbackSeconds) * 1000;
}

export type TermFeatures = Pick<ServerFeatures, "termReason">;

/** Settles deliveries this process pulled (`JsMsg`). */
export const settle = {
  ack(m: JsMsg): void {
    m.ack();
  },
  /** Redelivery after `delayMs` (none: at once). */
  nak(m: JsMsg, delayMs?: number): void {
    m.nak(delayMs);
  },
  /** Keeps the delivery held for another ack_wait. */
  working(m: JsMsg): void {
    m.working();
  },
  /** Never again. 2.9 ignores a `+TERM <reason>` altogether (the message would come back): the reason only where supported. */
  term(m: JsMsg, features: TermFeatures, reason?: string): void {
    if (reason && features.termReason) m.term(reason.slice(0, TERM_REASON_MAX_CHARS));
    else m.term();
  },
};

export type Settlement = { kind: "ack" } | { kind: "nak"; delayMs?: number } | { kind: "term"; reason?: string } | { kind: "working" };

/** The protocol body that settles a delivery when published to its ack subject. */
export function settleBody(s: Settlement, features?: TermFeatures): string {
  switch (s.kind) {
    case "ack":
      return "+ACK";
    case "working":
      return "+WPI";
    case "nak":
      return s.delayMs ? `-NAK ${JSON.stringify({ delay: s.delayMs * 1e6 })}` : "-NAK";
    case "term":
      return s.reason && features?.termReason ? `+TERM ${s.reason.slice(0, TERM_REASON_MAX_CHARS)}` : "+TERM";
  }
}

/** Settles a delivery by its ack subject, from any connection; fire and forget. */
export function settleByReply(nc: NatsConnection, reply: string, s: Settlement, features?: TermFeatures): void {
  nc.publish(reply, settleBody(s, features));
}

const enc = new TextEncoder();
/** As `settleByReply`, waiting for the server's confirmation (throws when there is none within `timeoutMs`). */
export async function settleByReplyConfirmed(nc: NatsConnection, reply: string, s: Settlement, timeoutMs = 5000, features?: TermFeatures): Promise<void> {
  await nc.request(reply, enc.encode(settleBody(s, features)), { timeout: timeoutMs });
}
