/**
 * `npm run bench -- triage`: alerts/s through the alert → incident bridge with Postgres, as a ratio
 * to the ingest rate measured in the same run on the same nats-server and database.
 *
 *   (a) ingest: every alert a distinct fingerprint (so each becomes a work item), published and
 *       drained by one ingest worker process: first publish → ingest consumer empty.
 *   (b) bridge: the work items those alerts queued, through triage worker process(es): claimed →
 *       incident committed → acked, from the first to the last ack on the work consumer.
 *
 * Then the store is counted: a fast but wrong run (a lost alert, a doubled incident or timeline
 * entry) is a data-loss failure, not a figure. No graph-runs worker runs: queuing the triage runs
 * is the bridge's job, executing them is not measured here.
 * BENCH_TRIAGE_ALERTS (default 50000, a multiple of the 500 signatures) shrinks a trial run;
 * BENCH_TRIAGE_WORKERS (default 1) sets the number of triage worker processes;
 * BENCH_TRIAGE_ENTRY runs the triage workers from another entry point than dist/src/cli.js (a
 * diagnostic wrapper that times the worker's steps, say).
 * BENCH_TRIAGE_SCALE=200k runs the scale bench instead (bench/lib/triage-scale.ts): 50,000 and
 * 200,000 alerts over 1,250 and 5,000 services on JSONL and on Postgres, with the graph runs and
 * monitor status in the bridge's process; the default output points to its last result.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { naming, subjects } from "../src/subjects/index.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { waitFor } from "../test/harness/wait.js";
import { signatureWorkload, type Workload } from "./lib/alerts.js";
import type { ScaleCounts } from "./lib/scale-verify.js";
import { crashGuard, spawnNode, type NodeChild } from "./lib/child.js";
import { Cleanup } from "./lib/cleanup.js";
import { benchServer } from "./lib/server.js";
import { waitForDrain } from "./lib/drain.js";
import { say } from "./lib/progress.js";
import { publishWindowed } from "./lib/publisher.js";
import { ratioFigure, printSection, writeResults, type Figure } from "./lib/report.js";
import { rate } from "./lib/stats.js";
import { latestScaleSummary, SCALE_COMMAND } from "./lib/scale-summary.js";
import { runScale } from "./lib/triage-scale.js";
import { DataLossError } from "./lib/verify.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, "..");
const S = subjects(naming());

export const TARGETS = { bridgeVsIngest: 0.3 } as const;

const SIGNATURES = 500;
const KINDS = ["latency", "error_rate", "slo_breach", "resource", "crash"] as const;
const PLAN = {
  alerts: Number(process.env.BENCH_TRIAGE_ALERTS ?? 50_000),
  signatures: SIGNATURES,
  /** 100 services × 5 kinds (signature = service, env, kind). */
  services: SIGNATURES / KINDS.length,
  triageWorkers: Number(process.env.BENCH_TRIAGE_WORKERS ?? 1),
  window: 4_000,
} as const;

/** Alert i has fingerprint i and signature i mod 500, so consecutive alerts hit different signatures. */
function buildTriageWorkload(count: number): Workload {
  if (count % SIGNATURES !== 0) throw new Error(`BENCH_TRIAGE_ALERTS ${count} is not a multiple of ${SIGNATURES}`);
  return signatureWorkload(count, { signatures: SIGNATURES, fingerprintPrefix: "triage-bench", servicePad: 3 });
}

async function untilPulling(jsm: JetStreamManager, stream: string, consumer: string, workers: NodeChild[]): Promise<void> {
  const guards = workers.map(crashGuard);
  try {
    await Promise.race([
      ...guards.map((g) => g.promise),
      waitFor(async () => (await jsm.consumers.info(stream, consumer)).num_waiting > 0, { timeoutMs: 60_000, intervalMs: 50, message: `a worker pulling from ${stream}/${consumer}` }),
    ]);
  } finally {
    guards.forEach((g) => g.cancel());
  }
}

/** performance.now() of the first poll that sees any work item acked, and how many were left then. */
async function firstAck(jsm: JetStreamManager, total: number, timeoutMs = 60_000): Promise<{ at: number; remaining: number }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const c = await jsm.consumers.info(S.alerts.workStream, S.alerts.workConsumer);
    const remaining = c.num_pending + c.num_ack_pending;
    if (remaining < total) return { at: performance.now(), remaining };
    if (performance.now() > deadline) throw new Error(`no work item acked ${timeoutMs / 1000} s after the triage workers started`);
    await delay(10);
  }
}

/** The scale bench's counts (bench/lib/scale-verify.ts) plus which bridge worker took each alert. */
interface Verified extends Omit<ScaleCounts, "triage_succeeded"> {
  owners: Record<string, number>;
}

async function verify(url: string): Promise<Verified> {
  const db = new pg.Client({ connectionString: url });
  db.on("error", () => {});
  await db.connect();
  try {
    const one = async (sql: string) => Number((await db.query<{ n: string | null }>(sql)).rows[0]!.n ?? 0);
    const entries = "FROM incident_events WHERE type IN ('alert', 'note') AND split_part(dedupe_key, '@', 1) = 'alert:' || (meta->>'alert_ref')";
    const owners = await db.query<{ owner: string | null; n: string }>("SELECT owner, count(*) AS n FROM alerts GROUP BY owner");
    return {
      alerts: await one("SELECT count(*) AS n FROM alerts"),
      acked: await one("SELECT count(*) AS n FROM alerts WHERE status = 'acked'"),
      incidents: await one("SELECT count(*) AS n FROM incidents"),
      signatures: await one("SELECT count(DISTINCT signature) AS n FROM incidents"),
      alert_count_sum: await one("SELECT sum(alert_count) AS n FROM incidents"),
      timeline_entries: await one(`SELECT count(*) AS n ${entries}`),
      timeline_refs: await one(`SELECT count(DISTINCT meta->>'alert_ref') AS n ${entries}`),
      created_events: await one("SELECT count(*) AS n FROM incident_events WHERE type = 'created'"),
      triage_runs: await one("SELECT count(*) AS n FROM graph_runs WHERE graph = 'incident_triage'"),
      owners: Object.fromEntries(owners.rows.map((r) => [r.owner ?? "(none)", Number(r.n)])),
    };
  } finally {
    await db.end();
  }
}

function assertExact(v: Verified, alerts: number): void {
  const want: Partial<Record<keyof Verified, number>> = {
    alerts, acked: alerts, incidents: SIGNATURES, signatures: SIGNATURES, alert_count_sum: alerts,
    timeline_entries: alerts, timeline_refs: alerts, created_events: SIGNATURES,
  };
  const wrong = Object.entries(want).filter(([k, n]) => v[k as keyof Verified] !== n);
  if (wrong.length) {
    throw new DataLossError(`store after the bridge: ${wrong.map(([k, n]) => `${k} = ${String(v[k as keyof Verified])}, expected ${n}`).join("; ")}`);
  }
}

export async function run(): Promise<number> {
  if (process.env.BENCH_TRIAGE_SCALE) return runScaleBench(process.env.BENCH_TRIAGE_SCALE);
  const cleanup = new Cleanup();
  const uninstall = cleanup.onSignals();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-triage-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  const loadBefore = loadavg()[0]!;
  try {
    const { nats, nc, js, jsm } = await benchServer(cleanup);
    const db = await createTestDatabase();
    cleanup.defer(`drop database ${db.name}`, () => db.drop());
    say(`bench triage: nats-server ${nc.info?.version}, ${cpus().length} cores, ${PLAN.alerts} alerts over ${SIGNATURES} signatures, ${PLAN.triageWorkers} triage worker(s)`);
    const w = buildTriageWorkload(PLAN.alerts);

    const env: Record<string, string> = {
      NATS_URL: nats.url, OPS_ENV: "dev", CONFIG_DIR: join(REPO_ROOT, "config"), LOG_LEVEL: "warn", OPSBUS_START_NATS: "0",
      DATA_DIR: mkdtempSync(join(tmpRoot, "data-")), INCIDENT_ARTIFACTS_DIR: join(tmpRoot, "artifacts"), REPORTS_DIR: join(tmpRoot, "reports"),
      ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: db.url, INCIDENT_BACKEND: "postgres", INCIDENT_DATABASE_URL: db.url, AUDIT_BACKEND: "memory",
      // Not JSONL (auto without a DSN): every worker shares DATA_DIR, which a JSONL store would lock.
      RISK_BACKEND: "memory", BACKLOG_BACKEND: "memory", JOB_BACKEND: "memory",
    };
    const spawnRole = (role: string, node: string) => {
      const entry = role === "incident-bridge" ? (process.env.BENCH_TRIAGE_ENTRY ?? "dist/src/cli.js") : "dist/src/cli.js";
      const child = spawnNode({ name: `${role} worker ${node}`, args: [entry, "worker", role], cwd: REPO_ROOT, env: { ...env, NODE_ID: node }, logFile: join(tmpRoot, `${node}.log`) });
      cleanup.defer(`stop ${child.name}`, () => child.stop());
      return child;
    };
    const stopCleanly = async (child: NodeChild) => {
      const { exit } = await child.stop();
      if (exit.code !== 0) throw new Error(`${child.name} did not drain cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal})\n${child.logTail()}`);
    };

    // (a) ingest alone; its work items wait on the work consumer for phase (b).
    const ingest = spawnRole("alerts-in", "ingest");
    await untilPulling(jsm, S.alerts.stream, S.alerts.ingestConsumer, [ingest]);
    const guard = crashGuard(ingest);
    const published = await Promise.race([
      guard.promise,
      publishWindowed(js, { count: w.count, subject: (i) => w.subjects[i]!, payload: (i) => w.payloads[i]! }, { window: PLAN.window, label: `ingest: publishing ${w.count} alerts` }),
    ]);
    const ingested = await Promise.race([
      guard.promise,
      waitForDrain(jsm, { stream: S.alerts.stream, consumer: S.alerts.ingestConsumer, total: published.lastSeq, label: "ingest: waiting for persist + ack" }),
    ]);
    guard.cancel();
    const ingestMs = ingested.at - published.startedAt;
    await stopCleanly(ingest);
    const queued = (await jsm.streams.info(S.alerts.workStream)).state.messages;
    if (queued !== w.count) throw new DataLossError(`ingest queued ${queued} work items for ${w.count} distinct alerts`);

    // (b) the bridge over the queued work items.
    const spawnedAt = performance.now();
    const triage = Array.from({ length: PLAN.triageWorkers }, (_, k) => spawnRole("incident-bridge", `triage-${k + 1}`));
    const guards = triage.map(crashGuard);
    const first = await Promise.race([...guards.map((g) => g.promise), firstAck(jsm, w.count)]);
    const drained = await Promise.race([
      ...guards.map((g) => g.promise),
      waitForDrain(jsm, { stream: S.alerts.workStream, consumer: S.alerts.workConsumer, total: w.count, label: "bridge: waiting for the work consumer to empty" }),
    ]);
    guards.forEach((g) => g.cancel());
    const bridgeMs = drained.at - first.at;
    for (const t of triage) await stopCleanly(t);

    const v = await verify(db.url);
    assertExact(v, w.count);
    say(`verified: ${v.incidents} incidents, ${v.timeline_entries} timeline alert entries, ${v.acked} alerts acked, ${v.triage_runs} triage runs queued`);

    const ingestRate = rate(w.count, ingestMs);
    const bridgeRate = rate(first.remaining, bridgeMs);
    const ingestBase = { name: "ingest", value: ingestRate, unit: "alerts/s" };
    const figures: Figure[] = [
      ratioFigure({ figure: "ingest end to end, Postgres (baseline)", value: ingestRate, unit: "alerts/s" }),
      ratioFigure({ figure: "bridge: claimed → committed → acked", value: bridgeRate, unit: "alerts/s", baseline: ingestBase }, { min: TARGETS.bridgeVsIngest }),
      ratioFigure({ figure: "  bridge incl. worker start-up", value: rate(w.count, drained.at - spawnedAt), unit: "alerts/s", baseline: ingestBase }),
    ];
    const notes = [
      `${w.count} alerts (${w.meanBytes.toFixed(0)} B mean), each a distinct fingerprint, over ${SIGNATURES} signatures (${PLAN.services} services × ${KINDS.length} kinds, env prod), publish window ${PLAN.window}`,
      `ingest: first publish → ingest consumer empty, ${(ingestMs / 1000).toFixed(2)} s (publishing ${(published.elapsedMs / 1000).toFixed(2)} s), one worker, ${ingested.redelivered} redelivered`,
      `bridge: ${PLAN.triageWorkers} triage worker(s) started on a full work queue; first ack → work consumer empty, ${(bridgeMs / 1000).toFixed(2)} s for the ${first.remaining} acks after the first poll that saw one; ${drained.redelivered} redelivered`,
      `verified exactly: ${v.incidents} incidents over ${v.signatures} signatures, ${v.timeline_entries} timeline entries keyed alert:<ref>@<starts_at> (${v.timeline_refs} distinct refs), sum(alert_count) ${v.alert_count_sum}, ${v.acked}/${v.alerts} alerts acked; ${v.triage_runs} triage runs queued (not executed: no graph-runs worker)`,
      `alerts settled per owner: ${Object.entries(v.owners).map(([o, n]) => `${o} ${n}`).join(", ")}`,
      `at scale (200k alerts over 5,000 services, JSONL and Postgres, graph runs included): ${SCALE_COMMAND}; ${latestScaleSummary(BENCH_DIR)}`,
      ...(loadBefore > cpus().length * 0.5 ? [`machine busy at start: load average ${loadBefore.toFixed(2)} on ${cpus().length} cores; expect noisy figures`] : []),
    ];
    printSection("opsbus bench: triage", figures, notes);
    const file = writeResults(BENCH_DIR, "triage", {
      bench: "triage", at: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version, nats_server: nc.info?.version ?? null },
      plan: PLAN, targets: TARGETS, figures, notes, load_average_at_start: loadBefore,
      raw: { ingest_ms: ingestMs, publish_ms: published.elapsedMs, bridge_ms: bridgeMs, first_ack_remaining: first.remaining, verified: v },
    });
    say(`results: ${file}`);
    return 0;
  } catch (err) {
    const e = err as Error;
    say(e instanceof DataLossError ? `\nDATA LOSS — no result: ${e.message}` : `\nbench triage failed: ${e.stack ?? e.message}`);
    return 1;
  } finally {
    uninstall();
    await cleanup.run();
  }
}

async function runScaleBench(size: string): Promise<number> {
  if (size !== "200k") {
    say(`BENCH_TRIAGE_SCALE=${size}: the scale bench has one size, 200k (with its 50k reference run)`);
    return 2;
  }
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-scale-"));
  try {
    const code = await runScale(BENCH_DIR, REPO_ROOT, tmpRoot);
    rmSync(tmpRoot, { recursive: true, force: true });
    return code;
  } catch (err) {
    const e = err as Error;
    say(e instanceof DataLossError ? `\nDATA LOSS — no result: ${e.message}` : `\nbench triage (scale) failed: ${e.stack ?? e.message}`);
    say(`logs and data kept in ${tmpRoot}`);
    return 1;
  }
}
