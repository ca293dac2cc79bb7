/**
 * End to end: the ingest worker alone in a child process, the workload published as fast as
 * the windowed publisher goes, the clock stopped when the worker has persisted and acked all
 * of it, and the store read back to prove nothing was lost.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTestDatabase } from "../../test/harness/postgres.js";
import { waitFor } from "../../test/harness/wait.js";
import { naming, streamSpecs, subjects } from "../../src/subjects/index.js";
import type { Workload } from "./alerts.js";
import { spawnNode, crashGuard, type NodeChild } from "./child.js";
import type { Cleanup } from "./cleanup.js";
import { waitForDrain } from "./drain.js";
import { say } from "./progress.js";
import { publishWindowed } from "./publisher.js";
import { rate } from "./stats.js";
import type { TraceSummary } from "./trace-summary.js";
import { assertComplete, countJsonl, countPostgres, type StoredCounts } from "./verify.js";

export type IngestBackend = "postgres" | "jsonl";

export interface E2EContext {
  repoRoot: string;
  tmpRoot: string;
  natsUrl: string;
  js: JetStreamClient;
  jsm: JetStreamManager;
  cleanup: Cleanup;
  window: number;
  /** Extra node flags for the worker, e.g. `--cpu-prof --cpu-prof-dir=…`. */
  workerNodeFlags?: string[];
  /** Run the worker through bench/lib/trace-worker.ts: batch sizes and where each batch's time went. */
  trace?: boolean;
  /** Another entry point standing in for `src/cli.ts` (to measure a change without touching src/). */
  workerEntry?: string;
}

export interface E2EResult {
  backend: IngestBackend;
  alerts: number;
  fingerprints: number;
  elapsed_ms: number;
  per_sec: number;
  /** How long publishing took with the worker competing for the CPU. */
  publish_elapsed_ms: number;
  /** From the last PubAck to the last ack: the backlog the worker still had. */
  tail_ms: number;
  /** RSS once the worker was ready, before the first alert: the runtime's own share. */
  idle_rss_mb: number;
  peak_rss_mb: number;
  vm_hwm_mb: number;
  rss_samples: number;
  redelivered: number;
  stored: StoredCounts;
  /** Messages the worker published as side effects. */
  work_messages: number;
  event_messages: number;
  trace?: TraceSummary;
}

const S = subjects(naming());

/** Deletes the opsbus streams, so each phase starts from empty ones the worker provisions. */
export async function resetOpsStreams(jsm: JetStreamManager): Promise<void> {
  for (const spec of streamSpecs(S.naming)) await jsm.streams.delete(spec.name).catch(() => false);
}

async function messagesIn(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

/** Ready = the worker's consume() has a pull request waiting on the ingest consumer. */
export async function waitForIngestWorker(jsm: JetStreamManager, worker: NodeChild): Promise<void> {
  const guard = crashGuard(worker);
  try {
    await Promise.race([
      guard.promise,
      waitFor(
        async () => (await jsm.consumers.info(S.alerts.stream, S.alerts.ingestConsumer)).num_waiting > 0,
        { timeoutMs: 60_000, intervalMs: 50, message: `${worker.name} to pull from ${S.alerts.stream}/${S.alerts.ingestConsumer}` },
      ),
    ]);
  } finally {
    guard.cancel();
  }
}

export async function runIngestE2E(ctx: E2EContext, backend: IngestBackend, w: Workload): Promise<E2EResult> {
  const dataDir = mkdtempSync(join(ctx.tmpRoot, `data-${backend}-`));
  const env: Record<string, string> = {
    NATS_URL: ctx.natsUrl,
    ALERT_BACKEND: backend,
    AUDIT_BACKEND: "memory",
    OPS_ENV: "dev",
    CONFIG_DIR: join(ctx.repoRoot, "config"),
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    OPSBUS_START_NATS: "0",
  };
  let dbUrl: string | undefined;
  if (backend === "postgres") {
    const db = await createTestDatabase();
    ctx.cleanup.defer(`drop database ${db.name}`, () => db.drop());
    dbUrl = db.url;
    env.ALERT_DATABASE_URL = db.url;
  }

  const traceFile = join(ctx.tmpRoot, `trace-${backend}.json`);
  if (ctx.trace) env.BENCH_TRACE_FILE = traceFile;

  await resetOpsStreams(ctx.jsm);
  say(`${backend}: starting the ingest worker (child process)…`);
  const worker = spawnNode({
    name: `alerts-in worker (${backend})`,
    args: [ctx.workerEntry ?? (ctx.trace ? "dist/bench/lib/trace-worker.js" : "dist/src/cli.js"), "worker", "alerts-in"],
    cwd: ctx.repoRoot,
    env,
    logFile: join(ctx.tmpRoot, `worker-${backend}.log`),
    ...(ctx.workerNodeFlags ? { nodeFlags: ctx.workerNodeFlags } : {}),
  });
  ctx.cleanup.defer(`stop ${worker.name}`, () => worker.stop());
  await waitForIngestWorker(ctx.jsm, worker);
  const idleRssKb = worker.memory.read().lastKb;

  const guard = crashGuard(worker);
  const abort = new AbortController();
  try {
    const published = await Promise.race([
      guard.promise,
      publishWindowed(ctx.js, { count: w.count, subject: (i) => w.subjects[i]!, payload: (i) => w.payloads[i]! }, {
        window: ctx.window,
        label: `${backend}: publishing ${w.count} alerts`,
        signal: abort.signal,
      }),
    ]);
    const drained = await Promise.race([
      guard.promise,
      waitForDrain(ctx.jsm, { stream: S.alerts.stream, consumer: S.alerts.ingestConsumer, total: published.lastSeq, label: `${backend}: waiting for the worker to persist and ack`, signal: abort.signal }),
    ]);
    guard.cancel();
    const elapsed = drained.at - published.startedAt;
    const [workMessages, eventMessages] = [await messagesIn(ctx.jsm, S.alerts.workStream), await messagesIn(ctx.jsm, S.events.stream)];

    const { exit, memory } = await worker.stop();
    if (exit.code !== 0) {
      throw new Error(`${worker.name} did not drain cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal})\n${worker.logTail()}`);
    }
    const stored = backend === "postgres" ? await countPostgres(dbUrl!) : await countJsonl(dataDir);
    assertComplete(`${backend} store`, stored, { alerts: w.fingerprints, occurrences: w.count });
    say(`${backend}: verified ${stored.alerts} alerts, ${stored.occurrences} occurrences, ${stored.receipts} receipts`);
    return {
      backend,
      alerts: w.count,
      fingerprints: w.fingerprints,
      elapsed_ms: elapsed,
      per_sec: rate(w.count, elapsed),
      publish_elapsed_ms: published.elapsedMs,
      tail_ms: drained.at - published.ackedAt,
      idle_rss_mb: idleRssKb / 1024,
      peak_rss_mb: Math.max(memory.peakSampledKb, memory.hwmKb) / 1024,
      vm_hwm_mb: memory.hwmKb / 1024,
      rss_samples: memory.samples,
      redelivered: drained.redelivered,
      stored,
      work_messages: workMessages,
      event_messages: eventMessages,
      ...(ctx.trace ? { trace: JSON.parse(readFileSync(traceFile, "utf8")) as TraceSummary } : {}),
    };
  } finally {
    guard.cancel();
    abort.abort();
  }
}
