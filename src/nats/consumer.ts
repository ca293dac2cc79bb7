/**
 * The one consume loop: pulls from a durable consumer, hands deliveries to a worker's handler and
 * settles them through src/nats/settle.ts. Two modes:
 *  - batch: group commit (the next batch fills while one is handled, so batches grow with load and
 *    stay small, hence fast, when traffic is light), optionally split into lanes of disjoint keys
 *    handled at once; a batch's side effects (`publish`) overlap the next batch's handling, and its
 *    settlements wait for them.
 *  - concurrent: one handler per delivery, at most `concurrency` at once.
 * A loop never throws: a delivery `parse` calls unreadable is terminated; any other failure naks the
 * deliveries with the retry-delay policy, logged with context and counted. A delivery arriving
 * while the loop stops is nak'd with the stopping delay.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log.js";
import { incoming, Loop, splitIntoLanes, UnreadableDelivery, type CommonOptions, type RunningConsumer } from "./consumer-loop.js";
import type { Settlement } from "./settle.js";

export { splitIntoLanes, UnreadableDelivery, type ConsumerMetrics, type Incoming, type RunningConsumer } from "./consumer-loop.js";
export { consumeEach, type ConcurrentOptions, type MessageHelpers } from "./consumer-each.js";

export interface BatchHelpers {
  logger: Logger;
  /** Aborted when the loop stops: waits (transient retries) end, the batch is given back. */
  signal: AbortSignal;
  /** Keeps every delivery of the batch held for another ack_wait. */
  working(): void;
}

export interface BatchResult {
  /** One settlement per delivery of the batch, in order (`working` is not a settlement). */
  outcomes: Array<Exclude<Settlement, { kind: "working" }>>;
  /** Side effects to finish before any settlement; they overlap the next batch's handling. */
  publish?(): Promise<void>;
  /** Called once the settlements went out (counting, latency). */
  settled?(): void;
}

export interface BatchOptions<T> extends CommonOptions<T> {
  batchSize: number;
  /** Groups of disjoint `laneKey`s handled at once (keyless ones go with the first). */
  lanes?: number;
  laneKey?(value: T): string | undefined;
  /** Deliveries parsed as they arrive, while the previous batch is handled; the rest wait raw. */
  parseAhead?: number;
  /**
   * One pull at a time, at most `ahead` deliveries (default: one batch) waiting beside the batch
   * handled, pulled again once fewer than half of them remain; so one worker never hoards a backlog
   * its peers could take, holds deliveries past ack_wait, or holds them in memory. (A standing
   * consume() refills as it delivers, not as the worker settles: it held up to max_ack_pending.)
   */
  ahead?: number;
  handle(batch: T[], helpers: BatchHelpers): Promise<BatchResult>;
}

type Entry<T> = { m: JsMsg; parsed: false } | { m: JsMsg; parsed: true; value: T };

/** Starts a batch-mode loop; see the module comment. */
export async function consumeBatches<T>(o: BatchOptions<T>): Promise<RunningConsumer> {
  const loop = new Loop(o);
  loop.consumer = await o.js.consumers.get(o.stream, o.consumer);
  const lanes = Math.max(1, o.lanes ?? 1);
  const parseAhead = o.parseAhead ?? 0;
  let buffer: Array<Entry<T>> = [];

  // Ahead of its batch a failure leaves the delivery unparsed: its batch parses it again.
  const parseEarly = (e: Entry<T>): Entry<T> => {
    if (e.parsed) return e;
    try {
      return { m: e.m, parsed: true, value: o.parse(incoming(e.m)) };
    } catch {
      return e;
    }
  };
  const keyOf = (e: Entry<T>) => (e.parsed ? o.laneKey?.(e.value) : undefined);
  const parseNext = () => {
    for (let i = 0; i < buffer.length && i < parseAhead; i++) buffer[i] = parseEarly(buffer[i]!);
  };

  const apply = (ready: JsMsg[], result: BatchResult) => {
    try {
      result.outcomes.forEach((s, i) => {
        const m = ready[i]!;
        if (s.kind === "ack") loop.settle.ack(m);
        else if (s.kind === "nak") loop.settle.nak(m, s.delayMs);
        else loop.settle.term(m, s.reason);
      });
      result.settled?.();
    } catch (err) {
      o.logger.error({ err }, `${o.label}: settling failed`);
    }
  };

  let publishing: Promise<void> = Promise.resolve();
  const handleGroup = async (entries: Array<Entry<T>>) => {
    const ready: JsMsg[] = [];
    const values: T[] = [];
    let result: BatchResult;
    try {
      for (const e of entries) {
        let value: T;
        try {
          value = e.parsed ? e.value : o.parse(incoming(e.m));
        } catch (err) {
          if (!(err instanceof UnreadableDelivery)) throw err;
          loop.refuse(e.m, err);
          continue;
        }
        ready.push(e.m);
        values.push(value);
      }
      const helpers: BatchHelpers = { logger: o.logger, signal: loop.aborter.signal, working: () => ready.forEach((m) => loop.settle.working(m)) };
      result = values.length ? await o.handle(values, helpers) : { outcomes: [] };
    } catch (err) {
      loop.fail(entries.map((e) => e.m), err, "handle");
      return;
    }
    const previous = publishing;
    publishing = (result.publish ? result.publish() : Promise.resolve()).then(
      () => apply(ready, result),
      (err: unknown) => loop.fail(ready, err, "publish"),
    );
    await previous;
  };

  let pumping: Promise<void> | undefined;
  // The bounded flow's pull loop waits for the buffer to run low: a waiting buffer always has a
  // pump coming (onMessage and the end of a pump schedule one), which wakes it as it takes a batch.
  let roomWaiter: (() => void) | undefined;
  const wakePuller = () => {
    const w = roomWaiter;
    roomWaiter = undefined;
    w?.();
  };
  const pump = async () => {
    while (buffer.length && !loop.stopping) {
      let taken = buffer.splice(0, o.batchSize * lanes);
      wakePuller();
      if (lanes > 1) taken = taken.map(parseEarly); // the lane key needs the parsed value
      const groups = splitIntoLanes(taken, lanes, keyOf);
      const handling = Promise.all(groups.map(handleGroup));
      // Once this batch is under way, parse what waits behind it.
      setImmediate(parseNext);
      await handling;
    }
  };
  const kick = () => {
    pumping ??= pump().finally(() => {
      pumping = undefined;
      wakePuller();
      if (buffer.length && !loop.stopping) setImmediate(kick);
    });
  };
  const onMessage = (m: JsMsg) => {
    if (!loop.admit(m)) return;
    const e: Entry<T> = { m, parsed: false };
    buffer.push(buffer.length < parseAhead ? parseEarly(e) : e);
    // setImmediate: first take everything this socket read delivered, then start the batch.
    if (!pumping) setImmediate(kick);
  };

  const ahead = Math.max(o.batchSize, o.ahead ?? o.batchSize);
  // One batch ahead: pulled once it is taken; more: once fewer than half are left.
  const low = ahead === o.batchSize ? o.batchSize : Math.ceil(ahead / 2);
  const pulling = loop.pullBounded(
    () => Math.max(o.batchSize, ahead - buffer.length),
    async () => {
      while (buffer.length >= low && !loop.stopping) await new Promise<void>((r) => (roomWaiter = r));
    },
    onMessage,
  );
  return {
    async stop() {
      loop.stopping = true;
      loop.aborter.abort();
      wakePuller();
      await pulling;
      await pumping;
      for (const { m } of buffer) loop.settle.nak(m);
      buffer = [];
      await publishing;
    },
    abandon: () => loop.abandon(),
  };
}
