/**
 * Waits until a durable consumer has nothing pending and nothing awaiting ack, i.e. every
 * published message was processed and acked. Fails when the consumer stops making progress.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { setTimeout as delay } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { progress } from "./progress.js";

export interface DrainOptions {
  stream: string;
  consumer: string;
  /** Messages expected in total (progress is the ack floor against this). */
  total: number;
  label: string;
  intervalMs?: number;
  /** Fail when the ack floor has not moved for this long. */
  stallMs?: number;
  /** Stops polling (e.g. the worker died and the bench is failing). */
  signal?: AbortSignal;
}

export interface Drained {
  /** performance.now() at the poll that saw the consumer empty. */
  at: number;
  redelivered: number;
  polls: number;
}

export async function waitForDrain(jsm: JetStreamManager, opts: DrainOptions): Promise<Drained> {
  const bar = progress(opts.label, opts.total);
  const stallMs = opts.stallMs ?? 60_000;
  let floor = -1;
  let movedAt = performance.now();
  let polls = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const info = await jsm.consumers.info(opts.stream, opts.consumer);
    opts.signal?.throwIfAborted();
    polls += 1;
    const now = performance.now();
    if (info.num_pending + info.num_ack_pending === 0) {
      bar.finish(`ack floor ${info.ack_floor.stream_seq}`);
      return { at: now, redelivered: info.num_redelivered, polls };
    }
    if (info.ack_floor.stream_seq !== floor) {
      floor = info.ack_floor.stream_seq;
      movedAt = now;
      bar.update(floor);
    } else if (now - movedAt > stallMs) {
      throw new Error(
        `${opts.stream}/${opts.consumer} made no progress for ${Math.round(stallMs / 1000)} s ` +
          `(ack floor ${floor}, pending ${info.num_pending}, ack pending ${info.num_ack_pending}, redelivered ${info.num_redelivered})`,
      );
    }
    await delay(opts.intervalMs ?? 50);
  }
}
