/**
 * `npm run bench -- alertmanager`: the same API on both. Prometheus Alertmanager (Debian's
 * `prometheus-alertmanager`) and opsbus's HTTP listener get the same request bodies on
 * `POST /api/v2/alerts` in the same run, sent as Prometheus sends them: 256 alerts per POST,
 * 8 requests in flight, only an exact 200 counts. Without the package it says so and records nothing.
 *
 *   1. answered: alerts/s until every POST was answered 200 (opsbus answers after the JetStream
 *      PubAck, so its 200 means durable); for opsbus also stored and acked on Postgres end to end
 *   2. RSS: Alertmanager's, and opsbus's gateway + ingest worker
 *   3. kill -9 mid-stream (opsbus: gateway, ingest worker and nats-server together): how many of
 *      the alerts answered 200 before the kill are there after a restart
 *
 * Phases 1 and 2 run BENCH_AM_ROUNDS times (default 3), each round on fresh servers, the two
 * servers' turns alternating (Alertmanager first in odd rounds), and the figures are the rounds'
 * medians: both rates move with the machine from one run to the next, and not together.
 * BENCH_AM_ALERTS (default 100000, label sets = alerts / 10) sizes phase 1; phase 3 uses a tenth.
 * BENCH_AM_WORKLOAD: `firings` (default: every alert its own startsAt, as an HA pair's replicas or
 * restarted rules send them; both servers merge them into one firing per label set) or
 * `resends` (Prometheus's steady state: each label set re-sent every round with its startsAt and a
 * new endsAt, so nine alerts in ten only refresh their alert).
 * BENCH_AM_GATEWAY_ENTRY: a script standing in for `opsbus worker gateway` (measure a change without touching src/).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { naming, subjects } from "../src/subjects/index.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { waitFor } from "../test/harness/wait.js";
import { PROMETHEUS_BATCH, sendBatches, type SendResult } from "../test/harness/prometheus-sender.js";
import { alertmanagerBinary, alertmanagerCount, alertmanagerLabelValues, startAlertmanager, type Alertmanager } from "./lib/alertmanager.js";
import { alertIdsOf, buildAmWorkload, buildResendWorkload, buildSurvivalWorkload, type AmWorkload } from "./lib/am-workload.js";
import { Cleanup } from "./lib/cleanup.js";
import { cpuTicks, secondsPer100k, settledTicks, watchBackends } from "./lib/cpu.js";
import { waitForDrain } from "./lib/drain.js";
import { resetOpsStreams } from "./lib/e2e.js";
import { startOpsbusIntake, type OpsbusIntake } from "./lib/opsbus-intake.js";
import { progress, say } from "./lib/progress.js";
import { printSection, ratioFigure, writeResults, type Figure } from "./lib/report.js";
import { benchServer } from "./lib/server.js";
import { rate } from "./lib/stats.js";
import { assertComplete, countPostgres } from "./lib/verify.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, "..");
const S = subjects(naming());
const ALERTS = Number(process.env.BENCH_AM_ALERTS ?? 100_000);
const GATEWAY_ENTRY = process.env.BENCH_AM_GATEWAY_ENTRY;
const WORKLOAD = process.env.BENCH_AM_WORKLOAD ?? "firings";
if (WORKLOAD !== "firings" && WORKLOAD !== "resends") throw new Error(`BENCH_AM_WORKLOAD is firings or resends, not ${WORKLOAD}`);
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_AM_ROUNDS ?? 3)));
const PLAN = { alerts: ALERTS, labelSets: Math.max(1, Math.floor(ALERTS / 10)), batch: PROMETHEUS_BATCH, inflight: 8, survival: Math.floor(ALERTS / 10), rounds: ROUNDS } as const;

/** The middle value (the mean of the two middle ones for an even count). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Sends every body once (no retries: a failure fails the bench), with a progress line. */
async function sendAll(url: string, w: AmWorkload, label: string): Promise<SendResult> {
  const bar = progress(label, w.bodies.length);
  let done = 0;
  const r = await sendBatches(url, w.bodies, { inflight: PLAN.inflight, onAnswered: () => bar.update(++done) });
  bar.finish();
  if (r.answered.length !== w.bodies.length) throw new Error(`${label}: ${w.bodies.length - r.answered.length} POSTs not answered 200 (${JSON.stringify(r.failures)})`);
  return r;
}

/**
 * Sends the survival set and calls `kill` (synchronously) when half its POSTs were answered 200;
 * the POSTs after that fail against the dead server and are not retried. Which alerts were answered.
 */
async function sendUntilKilled(url: string, w: AmWorkload, kill: () => void, label: string): Promise<Set<string>> {
  const half = Math.floor(w.bodies.length / 2);
  let answered = 0;
  const r = await sendBatches(url, w.bodies, {
    inflight: PLAN.inflight,
    onAnswered: () => void (++answered === half && kill()),
  });
  say(`${label}: ${r.answered.length} of ${w.bodies.length} POSTs answered 200 before/around the kill; failures ${JSON.stringify(r.failures)}`);
  return alertIdsOf(w, r.answered);
}

const count = (answered: Set<string>, present: Set<string>) => [...answered].filter((id) => present.has(id)).length;

async function postgresAlertIds(url: string): Promise<Set<string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>("SELECT labels->>'alert_id' AS id FROM alerts WHERE labels ? 'alert_id'");
    return new Set(rows.map((r) => r.id));
  } finally {
    await client.end();
  }
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
    const { nats, nc, jsm } = await benchServer(cleanup);
    say(`bench alertmanager: ${bin}, nats-server ${nc.info?.version}, ${cpus().length} cores, ${PLAN.alerts} alerts over ${PLAN.labelSets} label sets, ${PLAN.batch} per POST, ${PLAN.inflight} in flight`);
    const workload = (WORKLOAD === "resends" ? buildResendWorkload : buildAmWorkload)(PLAN.alerts, PLAN.labelSets);
    const survival = buildSurvivalWorkload(PLAN.survival);

    // 1 + 2, Alertmanager: answered, and what it holds after.
    const alertmanagerRound = async (round: number) => {
      const am = await startAlertmanager(bin, tmpRoot, cleanup);
      const before = cpuTicks(am.pid()) ?? 0;
      const sent = await sendAll(am.url, workload, `round ${round}, alertmanager: posting ${PLAN.alerts} alerts`);
      // Its dispatcher works on after the last 200: counted until its CPU goes still.
      const cpu = secondsPer100k((await settledTicks(am.pid(), 5_000)) - before, PLAN.alerts);
      const held = await alertmanagerCount(am.url);
      const rss = am.memory().read();
      await am.kill9(); // done with it: the next round and phase 3 start their own
      return { rate: rate(PLAN.alerts, sent.elapsedMs), cpu, held, rssMb: Math.max(rss.peakSampledKb, rss.hwmKb) / 1024, failures: sent.failures };
    };
    // 1 + 2, opsbus: answered (durable), then stored and acked, verified.
    const opsbusRound = async (round: number) => {
      await resetOpsStreams(jsm);
      const db = await createTestDatabase();
      cleanup.defer(`drop database ${db.name}`, () => db.drop());
      const ops: OpsbusIntake = await startOpsbusIntake({ repoRoot: REPO_ROOT, tmpRoot, natsUrl: nats.url, dbUrl: db.url, jsm, cleanup, label: `ingest-${round}`, ...(GATEWAY_ENTRY ? { gatewayEntry: GATEWAY_ENTRY } : {}) });
      const client = new pg.Client({ connectionString: db.url });
      client.on("error", () => {});
      await client.connect();
      cleanup.defer("close Postgres client", () => client.end());
      const pids = [ops.gateway.pid, ops.worker.pid, nats.pid];
      const before = pids.map((pid) => cpuTicks(pid) ?? 0);
      const backends = watchBackends(client);
      await backends.begin();
      const t0 = performance.now();
      const sent = await sendAll(ops.url, workload, `round ${round}, opsbus: posting ${PLAN.alerts} alerts`);
      const batches = (await jsm.streams.info(S.alerts.stream)).state.last_seq;
      const drained = await waitForDrain(jsm, { stream: S.alerts.stream, consumer: S.alerts.ingestConsumer, total: batches, label: `round ${round}, opsbus: waiting for the worker to store and ack` });
      const e2eMs = drained.at - t0;
      const ticks = pids.reduce((sum, pid, i) => sum + (cpuTicks(pid) ?? 0) - before[i]!, await backends.end());
      const cpu = secondsPer100k(ticks, PLAN.alerts);
      const rss = ops.peakRssMb();
      const stored = await countPostgres(db.url);
      // A re-send of a firing refreshes it, and so does a firing that overlaps it (merged, as
      // Alertmanager merges it): one occurrence per label set.
      assertComplete("opsbus Postgres store", stored, { alerts: PLAN.labelSets, occurrences: PLAN.labelSets });
      say(`round ${round}, opsbus: verified ${stored.alerts} alerts, ${stored.occurrences} occurrences from ${batches} batch messages`);
      await ops.kill9(); // done with it: the next round and phase 3 start their own
      return { answered: rate(PLAN.alerts, sent.elapsedMs), stored: rate(PLAN.alerts, e2eMs), cpu, rss, verified: stored, failures: sent.failures };
    };
    const rounds: Array<{ am: Awaited<ReturnType<typeof alertmanagerRound>>; ops: Awaited<ReturnType<typeof opsbusRound>> }> = [];
    for (let round = 1; round <= PLAN.rounds; round++) {
      // Alternating turns: a machine that speeds up or slows down during the bench favours neither.
      if (round % 2 === 1) {
        const am = await alertmanagerRound(round);
        rounds.push({ am, ops: await opsbusRound(round) });
      } else {
        const ops = await opsbusRound(round);
        rounds.push({ am: await alertmanagerRound(round), ops });
      }
    }

    // 3. kill -9 mid-stream, restart, count the answered alerts that are there.
    const am: Alertmanager = await startAlertmanager(bin, tmpRoot, cleanup);
    let amKilled: Promise<unknown> = Promise.resolve();
    const amAnswered = await sendUntilKilled(am.url, survival, () => void (amKilled = am.kill9()), "alertmanager kill -9");
    await amKilled;
    await am.restart();
    const amAfter = count(amAnswered, await alertmanagerLabelValues(am.url, "alert_id"));

    await resetOpsStreams(jsm);
    const db2 = await createTestDatabase();
    cleanup.defer(`drop database ${db2.name}`, () => db2.drop());
    const ops2 = await startOpsbusIntake({ repoRoot: REPO_ROOT, tmpRoot, natsUrl: nats.url, dbUrl: db2.url, jsm, cleanup, label: "kill", ...(GATEWAY_ENTRY ? { gatewayEntry: GATEWAY_ENTRY } : {}) });
    let opsKilled: Promise<unknown> = Promise.resolve();
    const opsAnswered = await sendUntilKilled(ops2.url, survival, () => void (opsKilled = Promise.all([ops2.kill9(), nats.kill9()])), "opsbus kill -9");
    await opsKilled;
    await nats.restart();
    // The bench's own connection reconnects on its own schedule: wait until it answers again.
    const kept = await waitFor(async () => (await jsm.streams.info(S.alerts.stream)).state.last_seq, { timeoutMs: 30_000, intervalMs: 200, message: "nats-server back with the alerts stream" });
    await ops2.restart();
    await waitForDrain(jsm, { stream: S.alerts.stream, consumer: S.alerts.ingestConsumer, total: kept, label: "opsbus: after the restart, waiting for the backlog" });
    const opsAfter = count(opsAnswered, await postgresAlertIds(db2.url));

    const amRate = median(rounds.map((r) => r.am.rate));
    const amRssMb = median(rounds.map((r) => r.am.rssMb));
    const amCpu = median(rounds.map((r) => r.am.cpu));
    const opsRssMb = median(rounds.map((r) => r.ops.rss.gateway + r.ops.rss.worker));
    const figures: Figure[] = [
      ratioFigure({ figure: "Alertmanager: answered (200)", value: amRate, unit: "alerts/s" }),
      ratioFigure({ figure: "opsbus: answered (200 after PubAck: durable)", value: median(rounds.map((r) => r.ops.answered)), unit: "alerts/s", baseline: { name: "Alertmanager", value: amRate, unit: "alerts/s" } }, { min: 1.0 }),
      ratioFigure({ figure: "opsbus: stored and acked on Postgres, end to end", value: median(rounds.map((r) => r.ops.stored)), unit: "alerts/s", baseline: { name: "Alertmanager", value: amRate, unit: "alerts/s" } }, { min: 0.7 }),
      ratioFigure({ figure: "Alertmanager: CPU per 100,000 alerts answered", value: amCpu, unit: "s" }),
      ratioFigure({ figure: "opsbus: CPU per 100,000 alerts stored (gateway, worker, Postgres, nats-server)", value: median(rounds.map((r) => r.ops.cpu)), unit: "s", baseline: { name: "Alertmanager", value: amCpu, unit: "s" } }),
      ratioFigure({ figure: "Alertmanager: peak RSS", value: amRssMb, unit: "MB" }),
      ratioFigure({ figure: "opsbus: peak RSS, gateway + ingest worker", value: opsRssMb, unit: "MB", baseline: { name: "Alertmanager", value: amRssMb, unit: "MB" } }),
      ratioFigure({ figure: "Alertmanager: answered alerts there after kill -9 + restart", value: amAfter, unit: "alerts", baseline: { name: "answered", value: amAnswered.size, unit: "alerts" } }),
      ratioFigure({ figure: "opsbus: answered alerts stored after kill -9 (gateway, worker, nats-server) + restart", value: opsAfter, unit: "alerts", baseline: { name: "answered", value: opsAnswered.size, unit: "alerts" } }, { min: 1.0 }),
    ];
    const perRound = rounds.map((r, i) =>
      `round ${i + 1}: Alertmanager ${Math.round(r.am.rate)}, opsbus answered ${Math.round(r.ops.answered)} (${(r.ops.answered / r.am.rate).toFixed(2)}×), ` +
      `stored ${Math.round(r.ops.stored)} (${(r.ops.stored / r.am.rate).toFixed(2)}×) alerts/s, CPU ${r.am.cpu.toFixed(2)} / ${r.ops.cpu.toFixed(2)} s per 100,000 alerts, RSS ${Math.round(r.am.rssMb)} / ${Math.round(r.ops.rss.gateway)} + ${Math.round(r.ops.rss.worker)} MB`,
    );
    const notes = [
      `the same ${workload.bodies.length} request bodies to both: ${PLAN.alerts} alerts over ${PLAN.labelSets} label sets (${WORKLOAD === "resends" ? "each label set re-sent every round with its startsAt and a new endsAt: a refresh" : "each alert its own startsAt: merged into its label set's firing"}), ` +
        `${PLAN.batch} per POST (Prometheus's maximum), ${PLAN.inflight} in flight, mean ${Math.round(workload.meanBytes)} bytes per alert; Alertmanager held ${rounds.map((r) => r.am.held).join(", ")} distinct alerts after`,
      `rates and RSS: the median of ${PLAN.rounds} rounds, each on fresh servers, their turns alternating (Alertmanager first in odd rounds)`,
      ...perRound,
      `opsbus: gateway (HTTP listener) and one ingest worker, each its own process, alert store on Postgres; answered = every POST answered 200 ` +
        `(one JetStream message per POST, PubAcked first); end to end = first POST → every batch stored and acked ` +
        `(${rounds[0]!.ops.verified.alerts} alerts, ${rounds[0]!.ops.verified.occurrences} occurrences, verified in every round)`,
      "CPU: utime + stime from /proc, Alertmanager's until it goes still after its last answer, opsbus's (its Postgres backends sampled every 0.5 s) from the first POST until every batch is stored and acked; the sender's own is not counted",
      "RSS: peak sampled / VmHWM",
      `kill -9: ${PLAN.survival} alerts, each its own label set; each server killed when half the POSTs were answered 200 (POSTs after it fail and are not retried), ` +
        "restarted on the same port and storage; counted: the alerts answered 200 that are there afterwards",
      "Alertmanager keeps active alerts in memory only (its storage holds silences and the notification log), so it relies on Prometheus re-sending them",
      "stretch target for stored end to end: ≥ 1.00×",
      ...(GATEWAY_ENTRY ? [`the gateway ran from ${GATEWAY_ENTRY}, not \`opsbus worker gateway\``] : []),
    ];
    printSection("opsbus and Prometheus Alertmanager: POST /api/v2/alerts", figures, notes);
    say(`results: ${writeResults(BENCH_DIR, "alertmanager", { bench: "alertmanager", at: new Date().toISOString(), plan: PLAN, figures, notes, failures: rounds.map((r) => ({ alertmanager: r.am.failures, opsbus: r.ops.failures })) })}`);
    return 0;
  } catch (err) {
    say(`\nbench alertmanager failed: ${(err as Error).stack ?? err}`);
    return 1;
  } finally {
    uninstall();
    await cleanup.run();
  }
}
