/**
 * Windowed async JetStream publishing: up to `window` publishes awaiting their PubAck at once.
 * Any failed publish fails the run: a count we cannot vouch for is not a benchmark.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { performance } from "node:perf_hooks";
import { progress } from "./progress.js";

export interface PublishPlan {
  count: number;
  subject(i: number): string;
  payload(i: number): Uint8Array;
}

export interface PublishResult {
  count: number;
  /** performance.now() of the first publish call. */
  startedAt: number;
  /** When the last PubAck arrived. */
  ackedAt: number;
  elapsedMs: number;
  lastSeq: number;
}

export interface PublishOptions {
  window: number;
  label: string;
  /** Stops publishing (e.g. the worker died and the bench is failing). */
  signal?: AbortSignal;
}

export async function publishWindowed(js: JetStreamClient, plan: PublishPlan, opts: PublishOptions): Promise<PublishResult> {
  const bar = progress(opts.label, plan.count);
  let inflight = 0;
  let acked = 0;
  let lastSeq = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const settled = () => {
    inflight -= 1;
    const w = wake;
    wake = undefined;
    w?.();
  };

  const startedAt = performance.now();
  for (let i = 0; i < plan.count; i++) {
    while (inflight >= opts.window) await new Promise<void>((resolve) => (wake = resolve));
    if (failure || opts.signal?.aborted) break;
    inflight += 1;
    js.publish(plan.subject(i), plan.payload(i)).then(
      (ack) => {
        acked += 1;
        if (ack.seq > lastSeq) lastSeq = ack.seq;
        if ((acked & 1023) === 0) bar.update(acked);
        settled();
      },
      (err: Error) => {
        failure ??= new Error(`publish #${i} to ${plan.subject(i)} failed: ${err.message}`);
        settled();
      },
    );
  }
  while (inflight > 0) await new Promise<void>((resolve) => (wake = resolve));
  const ackedAt = performance.now();
  if (failure) throw failure;
  opts.signal?.throwIfAborted();
  bar.finish();
  return { count: plan.count, startedAt, ackedAt, elapsedMs: ackedAt - startedAt, lastSeq };
}
