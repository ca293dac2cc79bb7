/** The consume loop's concurrent mode (see src/nats/consumer.ts): one handler per delivery, at most `concurrency` at once. */
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log.js";
import { incoming, Loop, UnreadableDelivery, type CommonOptions, type RunningConsumer } from "./consumer-loop.js";

export interface MessageHelpers {
  logger: Logger;
  signal: AbortSignal;
  subject: string;
  streamSeq: number;
  deliveryCount: number;
  ack(): void;
  nak(delayMs?: number): void;
  term(reason?: string): void;
  /** Keeps the delivery held for another ack_wait (until it is settled). */
  working(): void;
}

export interface ConcurrentOptions<T> extends CommonOptions<T> {
  concurrency: number;
  /** Settles through `helpers`; a delivery left unsettled is acked, a throw naks it. */
  handle(payload: T, helpers: MessageHelpers): Promise<void>;
}

/** Starts a concurrent-mode loop. */
export async function consumeEach<T>(o: ConcurrentOptions<T>): Promise<RunningConsumer> {
  const loop = new Loop(o);
  loop.consumer = await o.js.consumers.get(o.stream, o.consumer);
  const inflight = new Set<Promise<void>>();

  const run = (m: JsMsg) => {
    const logger = o.logger.child({ subject: m.subject, stream_seq: m.seq });
    let value: T;
    try {
      value = o.parse(incoming(m));
    } catch (err) {
      if (err instanceof UnreadableDelivery) loop.refuse(m, err);
      else loop.fail([m], err, "parse");
      return;
    }
    let settled = false;
    const done = (f: () => void) => {
      settled = true;
      f();
    };
    const helpers: MessageHelpers = {
      logger,
      signal: loop.aborter.signal,
      subject: m.subject,
      streamSeq: m.seq,
      deliveryCount: m.info.deliveryCount,
      ack: () => done(() => loop.settle.ack(m)),
      nak: (delayMs) => done(() => loop.settle.nak(m, delayMs)),
      term: (reason) => done(() => loop.settle.term(m, reason)),
      working: () => {
        if (!settled) loop.settle.working(m);
      },
    };
    const p: Promise<void> = o
      .handle(value, helpers)
      .then(
        () => {
          if (!settled) loop.settle.ack(m);
        },
        (err: unknown) => loop.fail([m], err, "handle"),
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  const pulling = loop.pullBounded(
    () => o.concurrency - inflight.size,
    async () => {
      while (inflight.size >= o.concurrency) await Promise.race(inflight);
    },
    (m) => loop.admit(m) && run(m),
  );
  return {
    async stop() {
      loop.stopping = true;
      loop.aborter.abort();
      await pulling;
      await Promise.all(inflight);
    },
    abandon: () => loop.abandon(),
  };
}
