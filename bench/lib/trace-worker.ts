/**
 * Diagnostic entry point (not a library), used instead of `src/cli.ts` when the bench runs with
 * BENCH_INGEST_TRACE=1: the same CLI, with every `ingestBatch` call, JetStream publish, Postgres
 * query and JSONL compaction timed in-process (prototype wrappers; no source file changes). On
 * exit it writes a summary to $BENCH_TRACE_FILE.
 */
import { JetStreamClientImpl } from "@nats-io/jetstream/internal";
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { PubAckBatcher } from "../../src/nats/events.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { PostgresAlertStore } from "../../src/stores/alerts/postgres.js";
import { JsonlLog } from "../../src/stores/jsonl.js";
import { summarizeTrace, type BatchSpan, type Timed } from "./trace-summary.js";

const out = process.env.BENCH_TRACE_FILE;
const batches: BatchSpan[] = [];
const queries = new Map<string, Timed>();
const compactions: Timed = { count: 0, ms: 0 };
let publishes = 0;
let lastPublishEnd = 0;
let heapPeak = 0;

type AsyncFn = (this: unknown, ...args: unknown[]) => unknown;
/** Replaces `proto[name]` with a wrapper that sees each call's arguments, start and end. */
function around(proto: object, name: string, hook: (args: unknown[]) => (end: number) => void): void {
  const target = proto as Record<string, AsyncFn>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...args: unknown[]) {
    const done = hook(args);
    const p = original.apply(this, args);
    return Promise.resolve(p).finally(() => done(performance.now()));
  };
}

function onIngest(args: unknown[]): (end: number) => void {
  // Side effects of the previous batch ended with its last publish.
  const prev = batches[batches.length - 1];
  if (prev && prev.sideEffectsEnd === undefined) prev.sideEffectsEnd = Math.max(prev.storeEnd, lastPublishEnd);
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  const span: BatchSpan = { size: (args[0] as unknown[]).length, storeStart: performance.now(), storeEnd: 0 };
  batches.push(span);
  return (end) => void (span.storeEnd = end);
}
around(PostgresAlertStore.prototype, "ingestBatch", onIngest);
around(MemoryAlertStore.prototype, "ingestBatch", onIngest);

around(JetStreamClientImpl.prototype, "publish", () => {
  publishes += 1;
  return (end) => void (lastPublishEnd = end);
});
// The ingest worker sends its side effects a batch at a time.
around(PubAckBatcher.prototype, "publishAll", (args) => {
  publishes += (args[0] as unknown[]).length;
  return (end) => void (lastPublishEnd = end);
});

around(JsonlLog.prototype, "compact", () => {
  const t0 = performance.now();
  return (end) => {
    compactions.count += 1;
    compactions.ms += end - t0;
  };
});

// Postgres: time per statement, keyed by its first words (pool clients are pg.Client instances;
// pg.Pool#query calls them with a callback, transactions with a promise).
const clientProto = pg.Client.prototype as unknown as Record<string, AsyncFn>;
const query = clientProto.query!;
clientProto.query = function (this: unknown, ...args: unknown[]) {
  const text = typeof args[0] === "string" ? args[0] : ((args[0] as { text?: string })?.text ?? "?");
  const key = text.replace(/\s+/g, " ").trim().slice(0, 48);
  const t0 = performance.now();
  const done = () => {
    const q = queries.get(key) ?? { count: 0, ms: 0 };
    q.count += 1;
    q.ms += performance.now() - t0;
    queries.set(key, q);
  };
  const cb = args[args.length - 1];
  if (typeof cb === "function") {
    args[args.length - 1] = (...r: unknown[]) => {
      done();
      return (cb as (...r: unknown[]) => unknown)(...r);
    };
    return query.apply(this, args);
  }
  const p = query.apply(this, args);
  return p instanceof Promise ? p.finally(done) : p;
};

process.once("exit", () => {
  const last = batches[batches.length - 1];
  if (last && last.sideEffectsEnd === undefined) last.sideEffectsEnd = Math.max(last.storeEnd, lastPublishEnd);
  if (out) writeFileSync(out, JSON.stringify(summarizeTrace({ batches, publishes, queries, compactions, heapPeakBytes: heapPeak }), null, 2));
});

await import("../../src/cli.js");
