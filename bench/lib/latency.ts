/**
 * Sequential request/reply latency. Several targets are asked in turn (A, B, A, B, …), one
 * request at a time, so background noise on a shared machine lands on each of them alike.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { performance } from "node:perf_hooks";
import { progress } from "./progress.js";
import { summarize, type LatencySummary } from "./stats.js";

export interface LatencyTarget {
  subject: string;
  body: string;
  /** Throws on a reply that does not count (e.g. an error envelope). */
  check?(reply: Uint8Array): void;
}

export async function interleavedLatency(
  nc: NatsConnection,
  targets: LatencyTarget[],
  opts: { warmup: number; count: number; label: string },
): Promise<LatencySummary[]> {
  const ask = async (t: LatencyTarget): Promise<number> => {
    const t0 = performance.now();
    const reply = await nc.request(t.subject, t.body, { timeout: 10_000 });
    const ms = performance.now() - t0;
    t.check?.(reply.data);
    return ms;
  };
  for (let i = 0; i < opts.warmup; i++) for (const t of targets) await ask(t);
  const bar = progress(opts.label, opts.count);
  const samples = targets.map(() => new Array<number>(opts.count));
  for (let i = 0; i < opts.count; i++) {
    for (let k = 0; k < targets.length; k++) samples[k]![i] = await ask(targets[k]!);
    if ((i & 127) === 0) bar.update(i);
  }
  bar.finish();
  return samples.map((s) => summarize(s));
}
