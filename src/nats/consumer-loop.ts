/** The parts of the consume loop (src/nats/consumer.ts) both modes share: options, stopping, failure, refusal, the bounded pull. */
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log.js";
import { retryDelayMs, settle, STOPPING_NAK_DELAY_MS, type RetryDelay, type TermFeatures } from "./settle.js";

/** A delivery as a worker's `parse` sees it. */
export interface Incoming {
  subject: string;
  data: Uint8Array;
  stream_seq: number;
  delivery_count: number;
  /** The publisher's Nats-Msg-Id, when it set one (a stable name for what was published). */
  msg_id?: string;
  /** When the stream stored it. */
  stored_at: Date;
}

/** Thrown by `parse` for a delivery that can never be handled: it is terminated, never retried. */
export class UnreadableDelivery extends Error {
  override name = "UnreadableDelivery";
}

export interface ConsumerMetrics {
  /** Deliveries received again (delivery count > 1). */
  redelivered?(n: number): void;
  /** Deliveries handed back for a retry after a failure. */
  retried?(n: number): void;
}

export interface CommonOptions<T> {
  js: JetStreamClient;
  stream: string;
  consumer: string;
  /** The worker's logger; failures are logged on it as `<label> failed`. */
  logger: Logger;
  label: string;
  features: TermFeatures;
  parse(m: Incoming): T;
  /** Default: the exponential policy of settle.ts. */
  retryDelay?: RetryDelay;
  metrics?: ConsumerMetrics;
  /** A pull's lifetime when the queue is quiet (stop waits out at most one). */
  expiresMs?: number;
}

export interface RunningConsumer {
  stop(): Promise<void>;
  /**
   * Naks at once every delivery taken in and not settled yet, and returns how many: for a drain
   * out of time, so they go to a live worker now instead of after ack_wait. The handlers still
   * running settle nothing afterwards.
   */
  abandon(): number;
}

export function incoming(m: JsMsg): Incoming {
  const msgId = m.headers?.get("Nats-Msg-Id");
  return { subject: m.subject, data: m.data, stream_seq: m.seq, delivery_count: m.info.deliveryCount, stored_at: new Date(m.info.timestampNanos / 1e6), ...(msgId ? { msg_id: msgId } : {}) };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Splits entries into `lanes` groups by key, so the groups' store calls run at once without
 * waiting on each other's rows. Arrival order is kept within a group, one key always lands in the
 * same group, and keyless entries go with the first.
 */
export function splitIntoLanes<T>(entries: T[], lanes: number, keyOf: (e: T) => string | undefined): T[][] {
  if (lanes <= 1) return [entries];
  const groups: T[][] = Array.from({ length: lanes }, () => []);
  for (const e of entries) {
    const key = keyOf(e);
    let h = 0;
    // FNV-1a: cheap and spreads short, similar keys (one service's fingerprints) evenly.
    if (key !== undefined) for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
    groups[key === undefined ? 0 : (h >>> 0) % lanes]!.push(e);
  }
  return groups.filter((g) => g.length > 0);
}

export class Loop<T> {
  stopping = false;
  readonly aborter = new AbortController();
  readonly retryDelay: RetryDelay;
  consumer!: Consumer;
  /** Deliveries taken in and not settled yet: what `abandon` gives back. */
  private readonly held = new Set<JsMsg>();
  constructor(readonly o: CommonOptions<T>) {
    this.retryDelay = o.retryDelay ?? retryDelayMs;
  }

  /**
   * Settles a delivery the loop holds, once: one it no longer holds (settled, or nak'd by
   * `abandon`) is left alone, so a handler finishing after an abandon changes nothing.
   */
  readonly settle = {
    ack: (m: JsMsg) => void (this.held.delete(m) && settle.ack(m)),
    nak: (m: JsMsg, delayMs?: number) => void (this.held.delete(m) && settle.nak(m, delayMs)),
    term: (m: JsMsg, reason?: string) => void (this.held.delete(m) && settle.term(m, this.o.features, reason)),
    working: (m: JsMsg) => void (this.held.has(m) && settle.working(m)),
  };

  /** Naks every held delivery at once (no delay) and returns how many. */
  abandon(): number {
    const n = this.held.size;
    for (const m of this.held) settle.nak(m);
    this.held.clear();
    return n;
  }

  /** True when the delivery was taken in; false when the loop is stopping (given back). */
  admit(m: JsMsg): boolean {
    if (this.stopping) {
      settle.nak(m, STOPPING_NAK_DELAY_MS);
      return false;
    }
    if (m.info.deliveryCount > 1) this.o.metrics?.redelivered?.(1);
    this.held.add(m);
    return true;
  }

  refuse(m: JsMsg, err: UnreadableDelivery): void {
    this.o.logger.error({ subject: m.subject, stream_seq: m.seq }, `${err.message}; terminated`);
    this.settle.term(m, err.message);
  }

  fail(batch: JsMsg[], err: unknown, stage: string): void {
    const first = batch[0];
    const delay = (m: JsMsg) => (this.stopping ? STOPPING_NAK_DELAY_MS : this.retryDelay(m.info.deliveryCount));
    this.o.logger.error(
      { err, stage, batch: batch.length, first_seq: first?.seq, deliveries: first?.info.deliveryCount, delay_ms: first && delay(first) },
      `${this.o.label} failed; nak for redelivery`,
    );
    for (const m of batch) this.settle.nak(m, delay(m));
    this.o.metrics?.retried?.(batch.length);
  }

  /** One pull request at a time, for `room()` deliveries, after `waitForRoom()`. */
  async pullBounded(room: () => number, waitForRoom: () => Promise<void>, onMessage: (m: JsMsg) => void): Promise<void> {
    while (!this.stopping) {
      await waitForRoom();
      if (this.stopping) break;
      try {
        const it = await this.consumer.fetch({ max_messages: room(), expires: this.o.expiresMs ?? 1000 });
        for await (const m of it) onMessage(m);
      } catch (err) {
        if (this.stopping) break;
        // A delivery already on its way to the abandoned pull is not lost: JetStream redelivers it after ack_wait.
        this.o.logger.warn({ err }, "fetch from the consumer failed; retrying in 1 s (a delivery in flight to it returns after ack_wait)");
        await sleep(1000);
      }
    }
  }
}
