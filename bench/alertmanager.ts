/**
 * `npm run bench -- alertmanager`: Prometheus Alertmanager beside opsbus on the same machine in
 * the same run, when Debian's `prometheus-alertmanager` is installed (otherwise it says so and
 * records nothing).
 *
 *   1. ingest: the same workload (count, fingerprints) into Alertmanager's `POST /api/v2/alerts`
 *      (batches of 500, 8 requests in flight) and into opsbus end to end on Postgres
 *   2. kill -9: alerts acknowledged before a kill -9 of everything (Alertmanager; opsbus's ingest
 *      worker and nats-server together) and still there after a restart
 *
 * BENCH_AM_ALERTS (default 100000, fingerprints = alerts / 10) sizes phase 1; phase 2 uses a tenth.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { naming, subjects } from "../src/subjects/index.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { buildWorkload, type Workload } from "./lib/alerts.js";
import { alertmanagerBinary, alertmanagerCount, startAlertmanager } from "./lib/alertmanager.js";
import { spawnNode } from "./lib/child.js";
import { Cleanup } from "./lib/cleanup.js";
import { waitForDrain } from "./lib/drain.js";
import { resetOpsStreams, runIngestE2E, waitForIngestWorker } from "./lib/e2e.js";
import { progress, say } from "./lib/progress.js";
import { publishWindowed } from "./lib/publisher.js";
import { printSection, ratioFigure, writeResults, type Figure } from "./lib/report.js";
import { benchServer } from "./lib/server.js";
import { rate } from "./lib/stats.js";
import { countPostgres } from "./lib/verify.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, "..");
const S = subjects(naming());
const ALERTS = Number(process.env.BENCH_AM_ALERTS ?? 100_000);
const PLAN = { alerts: ALERTS, fingerprints: Math.max(1, Math.floor(ALERTS / 10)), amBatch: 500, amInflight: 8, window: 4_000 } as const;

/** The opsbus alert as Alertmanager would get it from Prometheus: labels identify, annotations describe. */
function amAlerts(w: Workload): object[] {
  const dec = new TextDecoder();
  return w.payloads.map((p) => {
    const a = JSON.parse(dec.decode(p)) as { service: string; title: string; kind: string; severity: string; env: string; fingerprint: string; message: string; labels: Record<string, string>; starts_at: string };
    return {
      labels: { alertname: a.kind, service: a.service, env: a.env, severity: a.severity, fingerprint: a.fingerprint, ...a.labels },
      annotations: { title: a.title, message: a.message },
      startsAt: a.starts_at,
    };
  });
}

/** POSTs every alert in batches, `inflight` requests at a time; resolves when all were answered 200. */
async function postAll(url: string, alerts: object[], label: string): Promise<number> {
  const bodies: string[] = [];
  for (let i = 0; i < alerts.length; i += PLAN.amBatch) bodies.push(JSON.stringify(alerts.slice(i, i + PLAN.amBatch)));
  const bar = progress(label, bodies.length);
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const r = await fetch(`${url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body });
      if (!r.ok) throw new Error(`POST /api/v2/alerts: HTTP ${r.status} ${await r.text()}`);
      bar.update(next);
    }
  };
  await Promise.all(Array.from({ length: PLAN.amInflight }, lane));
  bar.finish();
  return performance.now() - t0;
}

export async function run(): Promise<number> {
  const bin = alertmanagerBinary();
  if (!bin) {
    say("bench alertmanager: skipped — prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)");
    return 0;
  }
  const cleanup = new Cleanup();
  const uninstall = cleanup.onSignals();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-am-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  try {
    const { nats, nc, js, jsm } = await benchServer(cleanup);
    say(`bench alertmanager: ${bin}, nats-server ${nc.info?.version}, ${cpus().length} cores, ${PLAN.alerts} alerts over ${PLAN.fingerprints} fingerprints`);
    const workload = buildWorkload(PLAN.alerts, PLAN.fingerprints);

    // 1. Ingest, the same workload into each.
    const am = await startAlertmanager(bin, tmpRoot, cleanup);
    const amMs = await postAll(am.url, amAlerts(workload), `alertmanager: posting ${PLAN.alerts} alerts`);
    const amHeld = await alertmanagerCount(am.url);
    const ops = await runIngestE2E({ repoRoot: REPO_ROOT, tmpRoot, natsUrl: nats.url, js, jsm, cleanup, window: PLAN.window }, "postgres", workload);

    // 2. kill -9 with a tenth of the workload: what was acknowledged, and what is there after a restart.
    const small = buildWorkload(PLAN.alerts / 10, PLAN.fingerprints / 10, 7);
    await postAll(am.url, amAlerts(small), "alertmanager: posting the kill -9 set");
    const amBefore = await alertmanagerCount(am.url);
    await am.kill9();
    await am.restart();
    const amAfter = await alertmanagerCount(am.url);
    const opsSurvival = await opsbusKill9(small, { natsUrl: nats.url, nats, js, jsm, cleanup, tmpRoot });

    const amRate = rate(PLAN.alerts, amMs);
    const figures: Figure[] = [
      ratioFigure({ figure: "Alertmanager POST /api/v2/alerts", value: amRate, unit: "alerts/s" }),
      ratioFigure({ figure: "opsbus ingest end to end, Postgres", value: ops.per_sec, unit: "alerts/s", baseline: { name: "Alertmanager", value: amRate, unit: "alerts/s" } }),
      ratioFigure({ figure: "Alertmanager: active alerts after kill -9 + restart", value: amAfter, unit: "alerts", baseline: { name: "held before", value: amBefore, unit: "alerts" } }),
      ratioFigure({ figure: "opsbus: PubAcked alerts counted after kill -9 + restart", value: opsSurvival.after, unit: "alerts", baseline: { name: "PubAcked", value: opsSurvival.acked, unit: "alerts" } }),
    ];
    const notes = [
      `the same ${PLAN.alerts} alerts over ${PLAN.fingerprints} fingerprints; Alertmanager gets them as Prometheus sends them (labels = identity), ` +
        `${PLAN.amBatch} per POST with ${PLAN.amInflight} requests in flight, timed until every POST was answered; it held ${amHeld} distinct alerts`,
      `opsbus: first publish → stored and acked on Postgres (${ops.stored.alerts} alerts, ${ops.stored.occurrences} occurrences verified), one ingest worker`,
      `kill -9: ${small.count} alerts over ${small.fingerprints} fingerprints; Alertmanager killed after every POST was answered; ` +
        `opsbus's ingest worker and nats-server killed together right after the last PubAck (${opsSurvival.storedAtKill} alerts stored by then), both restarted`,
      "Alertmanager keeps active alerts in memory only (its storage holds silences and the notification log), so it relies on Prometheus re-sending them",
    ];
    printSection("opsbus beside Prometheus Alertmanager", figures, notes);
    say(`results: ${writeResults(BENCH_DIR, "alertmanager", { bench: "alertmanager", at: new Date().toISOString(), plan: PLAN, figures, notes })}`);
    return 0;
  } catch (err) {
    say(`\nbench alertmanager failed: ${(err as Error).stack ?? err}`);
    return 1;
  } finally {
    uninstall();
    await cleanup.run();
  }
}

interface KillContext {
  natsUrl: string;
  nats: { kill9(): Promise<void>; restart(): Promise<void> };
  js: Parameters<typeof runIngestE2E>[0]["js"];
  jsm: Parameters<typeof runIngestE2E>[0]["jsm"];
  cleanup: Cleanup;
  tmpRoot: string;
}

/** Publishes `w`, kills the worker and nats-server with SIGKILL at the last PubAck, restarts both, counts. */
async function opsbusKill9(w: Workload, ctx: KillContext): Promise<{ acked: number; after: number; storedAtKill: number }> {
  const db = await createTestDatabase();
  ctx.cleanup.defer(`drop database ${db.name}`, () => db.drop());
  const env = {
    NATS_URL: ctx.natsUrl, ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: db.url, AUDIT_BACKEND: "memory", OPS_ENV: "dev",
    CONFIG_DIR: join(REPO_ROOT, "config"), DATA_DIR: mkdtempSync(join(ctx.tmpRoot, "data-kill-")), LOG_LEVEL: "warn", OPSBUS_START_NATS: "0",
  };
  const worker = (n: number) =>
    spawnNode({ name: `alerts-in worker #${n}`, args: ["dist/src/cli.js", "worker", "alerts-in"], cwd: REPO_ROOT, env, logFile: join(ctx.tmpRoot, `worker-kill-${n}.log`) });
  await resetOpsStreams(ctx.jsm);
  const first = worker(1);
  ctx.cleanup.defer(`stop ${first.name}`, () => first.stop());
  await waitForIngestWorker(ctx.jsm, first);
  const published = await publishWindowed(ctx.js, { count: w.count, subject: (i) => w.subjects[i]!, payload: (i) => w.payloads[i]! }, { window: PLAN.window, label: "opsbus: publishing the kill -9 set" });
  process.kill(first.pid, "SIGKILL");
  await ctx.nats.kill9();
  await first.exited;
  const storedAtKill = (await countPostgres(db.url)).occurrences;
  await ctx.nats.restart();
  const second = worker(2);
  ctx.cleanup.defer(`stop ${second.name}`, () => second.stop());
  await waitForIngestWorker(ctx.jsm, second);
  await waitForDrain(ctx.jsm, { stream: S.alerts.stream, consumer: S.alerts.ingestConsumer, total: published.lastSeq, label: "opsbus: after the restart, waiting for the backlog" });
  await second.stop();
  return { acked: published.count, after: (await countPostgres(db.url)).occurrences, storedAtKill };
}
