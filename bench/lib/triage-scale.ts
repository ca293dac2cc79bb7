/**
 * `BENCH_TRIAGE_SCALE=200k npm run bench -- triage`: the bridge at scale (issue 11, finding 8).
 * For each backend (JSONL and Postgres; BENCH_TRIAGE_SCALE_BACKENDS narrows) a 50,000-alert run
 * over 1,250 services and a 200,000-alert run over 5,000 services — the same shape (5 kinds,
 * 8 alerts per signature), so only the size differs:
 *
 *   (a) ingest alone (one `worker alerts-in` process), as the default triage bench;
 *   (b) one process with the incident-bridge, graph-runs and gateway roles — the bridge, the triage runs it
 *       queues (correlation, recurrence: where every-incident reads used to go) and monitor status
 *       — as `npm start` runs them on JSONL; the bench asks for monitor status every 2 s meanwhile.
 *
 * Figures: bridge alerts/s (first ack → work consumer empty) at 200k against 50k (target ≥ 0.5×,
 * i.e. within 2×), peak RSS of process (b) at 200k (target < 400 MB), monitor status latency, and
 * how long the triage runs took to drain. Every run is verified exactly (scale-verify.ts).
 */
import { mkdtempSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { naming, subjects } from "../../src/subjects/index.js";
import { createTestDatabase } from "../../test/harness/postgres.js";
import { signatureWorkload, type Workload } from "./alerts.js";
import { crashGuard, spawnNode, type NodeChild } from "./child.js";
import { Cleanup } from "./cleanup.js";
import { waitForDrain } from "./drain.js";
import { say } from "./progress.js";
import { publishWindowed } from "./publisher.js";
import { limitFigure, printSection, ratioFigure, writeResults, type Figure } from "./report.js";
import { assertScaleExact, countStores, type ScaleBackend, type ScaleCounts } from "./scale-verify.js";
import { benchServer } from "./server.js";
import { rate } from "./stats.js";

const S = subjects(naming());
/** The roles of process (b); the gateway serves monitor status. BENCH_TRIAGE_SCALE_ROLES overrides (comma-separated). */
const ROLES = (process.env.BENCH_TRIAGE_SCALE_ROLES ?? "incident-bridge,graph-runs,gateway").split(",").map((r) => r.trim());
const ALERTS_PER_SIGNATURE = 8;
export const SCALE_TARGETS = { bridge200kVs50k: 0.5, rssMb: 400 } as const;
/** The reference run and the scale run; BENCH_TRIAGE_SCALE_SIZES (two multiples of 40) shrinks a trial. */
const SIZES = (process.env.BENCH_TRIAGE_SCALE_SIZES ?? "50000,200000").split(",").map(Number);

/** Alert i has a distinct fingerprint and signature i mod (services × 5). */
export function scaleWorkload(count: number): Workload & { services: number; signatures: number } {
  const signatures = count / ALERTS_PER_SIGNATURE;
  return { ...signatureWorkload(count, { signatures, fingerprintPrefix: "scale-bench", servicePad: 4 }), signatures };
}

/** Asks for monitor status every `everyMs` until stopped; latencies in ms (a timeout counts as its timeout). */
function pollMonitorStatus(nc: NatsConnection, everyMs = 2000, timeoutMs = 10_000) {
  const latencies: number[] = [];
  let timeouts = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      try {
        await nc.request(S.tools.monitorStatus, "", { timeout: timeoutMs });
        latencies.push(performance.now() - t0);
      } catch {
        timeouts++;
        latencies.push(timeoutMs);
      }
      await delay(everyMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      return { samples: sorted.length, p50: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0, timeouts };
    },
  };
}

export interface ScaleRun {
  backend: ScaleBackend;
  alerts: number;
  services: number;
  signatures: number;
  ingest_rate: number;
  bridge_rate: number;
  bridge_ms: number;
  rss_peak_mb: number;
  status: { samples: number; p50: number; max: number; timeouts: number };
  /** First ack → every triage run settled; null when they had not within the wait. */
  graph_drain_ms: number | null;
  counts: ScaleCounts;
  load_at_start: number;
}

async function oneRun(backend: ScaleBackend, count: number, repoRoot: string, tmpRoot: string): Promise<ScaleRun> {
  const cleanup = new Cleanup();
  const loadAtStart = loadavg()[0]!;
  try {
    const { nats, nc, js, jsm } = await benchServer(cleanup);
    const w = scaleWorkload(count);
    const dataDir = mkdtempSync(join(tmpRoot, `data-${backend}-${count}-`));
    let dbUrl: string | undefined;
    if (backend === "postgres") {
      const db = await createTestDatabase();
      cleanup.defer(`drop database ${db.name}`, () => db.drop());
      dbUrl = db.url;
    }
    const stores: Record<string, string> = backend === "postgres"
      ? { ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: dbUrl!, INCIDENT_BACKEND: "postgres", INCIDENT_DATABASE_URL: dbUrl! }
      : { ALERT_BACKEND: "jsonl", INCIDENT_BACKEND: "jsonl" };
    const env: Record<string, string> = {
      NATS_URL: nats.url, OPS_ENV: "dev", CONFIG_DIR: join(repoRoot, "config"), LOG_LEVEL: "warn", OPSBUS_START_NATS: "0",
      DATA_DIR: dataDir, INCIDENT_ARTIFACTS_DIR: join(dataDir, "artifacts"), REPORTS_DIR: join(dataDir, "reports"), AUDIT_BACKEND: "memory", ...stores,
    };
    const spawn = (name: string, args: string[]): NodeChild => {
      const child = spawnNode({ name, args, cwd: repoRoot, env: { ...env, NODE_ID: name }, logFile: join(tmpRoot, `${name}-${backend}-${count}.log`) });
      cleanup.defer(`stop ${name}`, () => child.stop());
      return child;
    };
    say(`scale: ${backend}, ${count} alerts over ${w.services} services (${w.signatures} signatures), load ${loadAtStart.toFixed(2)}`);

    const ingest = spawn("ingest", ["dist/src/cli.js", "worker", "alerts-in"]);
    const ig = crashGuard(ingest);
    await Promise.race([ig.promise, untilPulling(jsm, S.alerts.stream, S.alerts.ingestConsumer)]);
    const t0 = performance.now();
    await Promise.race([ig.promise, publishWindowed(js, { count: w.count, subject: (i) => w.subjects[i]!, payload: (i) => w.payloads[i]! }, { window: 4000, label: `ingest: publishing ${w.count}` })]);
    const ingested = await Promise.race([ig.promise, waitForDrain(jsm, { stream: S.alerts.stream, consumer: S.alerts.ingestConsumer, total: w.count, label: "ingest: persist + ack", stallMs: 180_000 })]);
    ig.cancel();
    await ingest.stop();

    const node = spawn("bridge", ["dist/bench/lib/roles-entry.js", ...ROLES]);
    const g = crashGuard(node);
    const first = await Promise.race([g.promise, firstAck(jsm, w.count)]);
    const status = ROLES.includes("gateway") ? pollMonitorStatus(nc) : { stop: async () => ({ samples: 0, p50: 0, max: 0, timeouts: 0 }) };
    const drained = await Promise.race([g.promise, waitForDrain(jsm, { stream: S.alerts.workStream, consumer: S.alerts.workConsumer, total: w.count, label: "bridge: work consumer", stallMs: 180_000 })]);
    let graphDrainMs: number | null = null;
    if (ROLES.includes("graph-runs")) try {
      const gd = await Promise.race([g.promise, waitForDrain(jsm, { stream: S.graphs.stream, consumer: S.graphs.consumer, total: w.signatures, label: "triage runs", stallMs: 120_000 })]);
      graphDrainMs = gd.at - first.at;
    } catch (err) {
      if (node.hasExited()) throw err;
      say(`triage runs did not drain: ${(err as Error).message}`);
    }
    const statusFigures = await status.stop();
    g.cancel();
    const { memory } = await node.stop();
    const counts = await countStores(backend, { dataDir, ...(dbUrl ? { dbUrl } : {}) });
    assertScaleExact(counts, w.count, w.signatures);
    return {
      backend, alerts: w.count, services: w.services, signatures: w.signatures,
      ingest_rate: rate(w.count, ingested.at - t0), bridge_rate: rate(first.remaining, drained.at - first.at), bridge_ms: drained.at - first.at,
      rss_peak_mb: Math.max(memory.hwmKb, memory.peakSampledKb) / 1024, status: statusFigures, graph_drain_ms: graphDrainMs, counts, load_at_start: loadAtStart,
    };
  } finally {
    await cleanup.run();
  }
}

/** Until a worker pulls from the consumer (the worker provisions the streams on start). */
async function untilPulling(jsm: JetStreamManager, stream: string, consumer: string): Promise<void> {
  const deadline = performance.now() + 120_000;
  while (performance.now() < deadline) {
    const info = await jsm.consumers.info(stream, consumer).catch(() => null);
    if (info && info.num_waiting > 0) return;
    await delay(50);
  }
  throw new Error(`no worker pulling from ${stream}/${consumer} after 120 s`);
}

/** performance.now() of the first poll that sees a work item acked, and how many were left then. */
async function firstAck(jsm: JetStreamManager, total: number): Promise<{ at: number; remaining: number }> {
  const deadline = performance.now() + 300_000;
  for (;;) {
    const c = await jsm.consumers.info(S.alerts.workStream, S.alerts.workConsumer);
    const remaining = c.num_pending + c.num_ack_pending;
    if (remaining < total) return { at: performance.now(), remaining };
    if (performance.now() > deadline) throw new Error("no work item acked 300 s after the bridge process started");
    await delay(20);
  }
}

export async function runScale(benchDir: string, repoRoot: string, tmpRoot: string): Promise<number> {
  const backends = (process.env.BENCH_TRIAGE_SCALE_BACKENDS ?? "jsonl,postgres").split(",").map((b) => b.trim()) as ScaleBackend[];
  const runs: ScaleRun[] = [];
  for (const backend of backends) for (const size of SIZES) runs.push(await oneRun(backend, size, repoRoot, tmpRoot));
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const backend of backends) {
    const [small, big] = SIZES.map((n) => runs.find((r) => r.backend === backend && r.alerts === n)!);
    const k = (n: number) => `${n / 1000}k`;
    const base = { name: k(small!.alerts), value: small!.bridge_rate, unit: "alerts/s" };
    figures.push(
      ratioFigure({ figure: `${backend}: bridge at ${k(small!.alerts)} (${small!.services} services)`, value: small!.bridge_rate, unit: "alerts/s" }),
      ratioFigure({ figure: `${backend}: bridge at ${k(big!.alerts)} (${big!.services} services)`, value: big!.bridge_rate, unit: "alerts/s", baseline: base }, { min: SCALE_TARGETS.bridge200kVs50k }),
      limitFigure({ figure: `${backend}: peak RSS, bridge + graph runs + gateway at ${k(big!.alerts)}`, value: big!.rss_peak_mb, unit: "MB" }, SCALE_TARGETS.rssMb),
      ratioFigure({ figure: `${backend}: monitor status max latency at ${k(big!.alerts)}`, value: big!.status.max, unit: "ms" }),
    );
    for (const r of [small!, big!]) {
      notes.push(
        `${backend} ${r.alerts}: ingest ${r.ingest_rate.toFixed(0)} alerts/s; bridge ${(r.bridge_ms / 1000).toFixed(1)} s; RSS peak ${r.rss_peak_mb.toFixed(0)} MB; ` +
          `monitor status p50 ${r.status.p50.toFixed(0)} ms, max ${r.status.max.toFixed(0)} ms over ${r.status.samples} (${r.status.timeouts} timeouts); ` +
          `${r.counts.triage_succeeded}/${r.counts.triage_runs} triage runs succeeded, ${r.graph_drain_ms === null ? "not drained" : `drained ${(r.graph_drain_ms / 1000).toFixed(1)} s after the first ack`}; load ${r.load_at_start.toFixed(2)} at start`,
      );
    }
  }
  notes.push(`verified exactly per run: every alert stored once and acked, one timeline entry per alert, one incident and one triage run per signature; ${cpus().length} cores`);
  printSection("opsbus bench: triage at scale (BENCH_TRIAGE_SCALE=200k)", figures, notes);
  const file = writeResults(benchDir, "triage-scale", { bench: "triage-scale", at: new Date().toISOString(), targets: SCALE_TARGETS, figures, notes, runs });
  say(`results: ${file}`);
  return 0;
}
