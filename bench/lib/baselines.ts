/**
 * The raw JetStream figures every ingest number is divided by, measured on the same server in
 * the same run: windowed async publish into a plain stream, and durable pull consume + ack.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { performance } from "node:perf_hooks";
import { waitFor } from "../../test/harness/wait.js";
import type { Workload } from "./alerts.js";
import { progress } from "./progress.js";
import { publishWindowed } from "./publisher.js";
import { rate } from "./stats.js";

export const RAW_STREAM = "BENCH_RAW";
const RAW_CONSUMER = "bench-raw";

export interface RateFigure {
  count: number;
  elapsed_ms: number;
  per_sec: number;
}

/** Untimed publishes first, so the baseline is not charged for JIT warm-up the later phases skip. */
const WARMUP_PUBLISHES = 5_000;

/** Publishes the workload's payloads (same sizes, same window) into a plain file stream. */
export async function rawPublishRate(js: JetStreamClient, jsm: JetStreamManager, w: Workload, window: number): Promise<RateFigure> {
  await jsm.streams.add({ name: RAW_STREAM, subjects: ["bench.raw.>"] });
  const warm = Math.min(WARMUP_PUBLISHES, w.count);
  await publishWindowed(js, { count: warm, subject: (i) => `bench.raw.${i % 20}`, payload: (i) => w.payloads[i]! }, { window, label: "baseline: warm-up" });
  await jsm.streams.purge(RAW_STREAM);
  const res = await publishWindowed(
    js,
    { count: w.count, subject: (i) => `bench.raw.${i % 20}`, payload: (i) => w.payloads[i]! },
    { window, label: `baseline: publishing ${w.count} messages (window ${window})` },
  );
  return { count: w.count, elapsed_ms: res.elapsedMs, per_sec: rate(w.count, res.elapsedMs) };
}

/**
 * Reads back what rawPublishRate wrote with `consume()` + `ack()`, the way the ingest worker
 * does (same max_messages), and stops the clock when the server shows no ack pending.
 */
export async function rawConsumeRate(js: JetStreamClient, jsm: JetStreamManager, count: number, maxMessages: number): Promise<RateFigure> {
  await jsm.consumers.add(RAW_STREAM, {
    durable_name: RAW_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 20_000,
  });
  const consumer = await js.consumers.get(RAW_STREAM, RAW_CONSUMER);
  const bar = progress(`baseline: consuming + acking ${count} messages`, count);
  const started = performance.now();
  const messages = await consumer.consume({ max_messages: maxMessages });
  let seen = 0;
  for await (const m of messages) {
    m.ack();
    seen += 1;
    if ((seen & 1023) === 0) bar.update(seen);
    if (seen >= count) break;
  }
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(RAW_STREAM, RAW_CONSUMER);
      return info.num_ack_pending === 0 && info.num_pending === 0;
    },
    { timeoutMs: 60_000, intervalMs: 10, message: "baseline consumer acks to settle" },
  );
  const elapsed = performance.now() - started;
  await messages.close().catch(() => undefined);
  bar.finish();
  return { count, elapsed_ms: elapsed, per_sec: rate(count, elapsed) };
}

export async function dropRawStream(jsm: JetStreamManager): Promise<void> {
  await jsm.streams.delete(RAW_STREAM).catch(() => false);
}
