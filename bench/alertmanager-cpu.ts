/**
 * `npx tsx bench/alertmanager-cpu.ts`: CPU seconds each process of the opsbus Alertmanager intake
 * spends per 100,000 alerts (gateway, ingest worker, the Postgres backends of its database,
 * nats-server), read from /proc/<pid>/stat (utime + stime) around the Alertmanager bench's
 * workload, and the bench's own (the sender's) beside them. CPU time stays meaningful on a busy
 * machine, where wall-clock ratios do not; the answered and stored rates (first POST → last 200,
 * → every batch stored and acked) are printed too. Runs the compiled code (dist/: `npm run build`
 * first).
 *
 * BENCH_AM_CPU_ALERTS (default 100000; label sets = alerts / 10) are measured after
 * BENCH_AM_CPU_WARM (default 10000) warm-up alerts of other label sets; BENCH_AM_CPU_RUNS
 * (default 1) repeats it, each run on fresh processes, streams and database.
 * BENCH_AM_CPU_WORKLOAD: `firings` (default; the Alertmanager bench's: every alert its own startsAt,
 * merged into its label set's firing) or `resends` (Prometheus's steady state: each label set re-sent every round with its
 * startsAt and a new endsAt, so nine alerts in ten only refresh). Postgres's updates of `alerts`
 * are printed with how many were HOT (no index entries written), the worker's peak RSS, and the
 * minor page faults of the gateway, worker and nats-server (on a virtual machine each can cost
 * microseconds of CPU). When Debian's Alertmanager is installed, it gets the same warm-up and
 * workload first in every run, and its own CPU and faults are printed beside opsbus's.
 * BENCH_AM_CPU_FLOOR=1 measures the floor too (bench/lib/floor/): the least a pipeline of opsbus's
 * shape does, so its CPU shows what a stored-rate target leaves for the work opsbus adds per alert.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { naming, subjects } from "../src/subjects/index.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { sendBatches } from "../test/harness/prometheus-sender.js";
import { alertmanagerBinary, startAlertmanager } from "./lib/alertmanager.js";
import { buildAmWorkload, buildResendWorkload, type AmWorkload } from "./lib/am-workload.js";
import { nodeFlagsFromEnv } from "./lib/child.js";
import { Cleanup } from "./lib/cleanup.js";
import { cpuTicks, minorFaults, ownTicks, secondsPer100k, settledTicks, watchBackends } from "./lib/cpu.js";
import { waitForDrain } from "./lib/drain.js";
import { resetOpsStreams } from "./lib/e2e.js";
import { measureFloor } from "./lib/floor/measure.js";
import { startOpsbusIntake } from "./lib/opsbus-intake.js";
import { say } from "./lib/progress.js";
import { benchServer } from "./lib/server.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const S = subjects(naming());
const ALERTS = Number(process.env.BENCH_AM_CPU_ALERTS ?? 100_000);
const WARM = Number(process.env.BENCH_AM_CPU_WARM ?? 10_000);
const RUNS = Number(process.env.BENCH_AM_CPU_RUNS ?? 1);
const WORKLOAD = process.env.BENCH_AM_CPU_WORKLOAD ?? "firings";
const FLOOR = process.env.BENCH_AM_CPU_FLOOR === "1";
if (WORKLOAD !== "firings" && WORKLOAD !== "resends") throw new Error(`BENCH_AM_CPU_WORKLOAD is firings or resends, not ${WORKLOAD}`);
/** Extra node flags for the gateway and the worker, space-separated (e.g. `--max-semi-space-size=32`). */
const NODE_FLAGS = nodeFlagsFromEnv("BENCH_AM_CPU_NODE_FLAGS");
/** The workload with an extra label on every alert: label sets the measured run does not use. */
function otherLabelSets(w: AmWorkload): AmWorkload {
  const relabel = (body: string) => JSON.stringify((JSON.parse(body) as Array<{ labels: Record<string, string> }>).map((a) => ({ ...a, labels: { ...a.labels, phase: "warm-up" } })));
  return { ...w, bodies: w.bodies.map(relabel) };
}

/** The warm-up and the measured workload, the same for Alertmanager and opsbus. */
interface Workloads {
  warm?: AmWorkload;
  measured: AmWorkload;
}

function workloads(): Workloads {
  const measured = (WORKLOAD === "resends" ? buildResendWorkload : buildAmWorkload)(ALERTS, Math.max(1, Math.floor(ALERTS / 10)));
  return WARM > 0 ? { warm: otherLabelSets(buildAmWorkload(WARM, Math.max(1, Math.floor(WARM / 10)), 7)), measured } : { measured };
}

const per100k = (ticks: number) => secondsPer100k(ticks, ALERTS);
/** A count per 100,000 alerts, whole. */
const perAlerts = (n: number) => Math.round((n * 100_000) / ALERTS);

/**
 * Alertmanager's own CPU for the same workload after the same warm-up (Debian's binary; skipped
 * without it). Its alerts are in memory when it answers, but its dispatcher works on after the last
 * 200: counted until its CPU goes still (at most 5 s).
 */
async function measureAlertmanager(w: Workloads): Promise<Record<string, number> | undefined> {
  const bin = alertmanagerBinary();
  if (!bin) return undefined;
  const cleanup = new Cleanup();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-am-cpu-am-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  try {
    const am = await startAlertmanager(bin, tmpRoot, cleanup);
    if (w.warm) await sendBatches(am.url, w.warm.bodies, { inflight: 8 });
    const before = await settledTicks(am.pid(), 5_000);
    const faultsBefore = minorFaults(am.pid()) ?? 0;
    const sender = process.cpuUsage();
    const t0 = performance.now();
    const r = await sendBatches(am.url, w.measured.bodies, { inflight: 8 });
    const answeredMs = performance.now() - t0;
    const senderTicks = ownTicks(sender);
    if (r.answered.length !== w.measured.bodies.length) throw new Error(`Alertmanager: ${w.measured.bodies.length - r.answered.length} POSTs not answered 200 (${JSON.stringify(r.failures)})`);
    const ticks = (await settledTicks(am.pid(), 5_000)) - before;
    return { alertmanager: per100k(ticks), faults: perAlerts((minorFaults(am.pid()) ?? 0) - faultsBefore), bench: per100k(senderTicks), answeredRate: Math.round(ALERTS / (answeredMs / 1000)) };
  } finally {
    await cleanup.run();
  }
}

async function measureOnce(run: number, w: Workloads): Promise<Record<string, number>> {
  const cleanup = new Cleanup();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-am-cpu-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  try {
    const { nats, jsm } = await benchServer(cleanup);
    await resetOpsStreams(jsm);
    const db = await createTestDatabase();
    cleanup.defer(`drop database ${db.name}`, () => db.drop());
    const ops = await startOpsbusIntake({ repoRoot: REPO_ROOT, tmpRoot, natsUrl: nats.url, dbUrl: db.url, jsm, cleanup, label: `cpu-${run}`, ...(NODE_FLAGS.length ? { nodeFlags: NODE_FLAGS } : {}) });
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => {});
    await client.connect();
    cleanup.defer("close Postgres client", () => client.end());

    /** Milliseconds from the first POST to the last one answered, and to every batch stored and acked. */
    const post = async (w: AmWorkload, label: string): Promise<{ answeredMs: number; storedMs: number }> => {
      const t0 = performance.now();
      const r = await sendBatches(ops.url, w.bodies, { inflight: 8 });
      const answeredMs = performance.now() - t0;
      if (r.answered.length !== w.bodies.length) throw new Error(`${label}: ${w.bodies.length - r.answered.length} POSTs not answered 200 (${JSON.stringify(r.failures)})`);
      const total = (await jsm.streams.info(S.alerts.stream)).state.last_seq;
      const drained = await waitForDrain(jsm, { stream: S.alerts.stream, consumer: S.alerts.ingestConsumer, total, label: `${label}: waiting for the worker` });
      return { answeredMs, storedMs: drained.at - t0 };
    };
    if (w.warm) await post(w.warm, "warm-up");
    const updates = async () =>
      (await client.query<{ upd: string; hot: string }>("SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'alerts'")).rows[0] ?? { upd: "0", hot: "0" };
    // Counters as of now, including what other backends flushed so far.
    await client.query("SELECT pg_stat_clear_snapshot()");
    const updBefore = await updates();
    const walAt = async () => (await client.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")).rows[0]!.lsn;
    const walBefore = await walAt();
    const procs = { gateway: ops.gateway.pid, worker: ops.worker.pid, nats: nats.pid };
    const before = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuTicks(pid) ?? 0]));
    const faultsBefore = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, minorFaults(pid) ?? 0]));
    const postgres = watchBackends(client);
    await postgres.begin();
    const sender = process.cpuUsage();
    const wall = await post(w.measured, `run ${run}: ${ALERTS} alerts`);
    const senderTicks = ownTicks(sender);
    const pgTicks = await postgres.end();
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(procs)) {
      out[k] = per100k((cpuTicks(pid) ?? 0) - before[k]!);
      out[`${k}Faults`] = perAlerts((minorFaults(pid) ?? 0) - faultsBefore[k]!);
    }
    out.postgres = per100k(pgTicks);
    // The bench's own process: the sender, and the drain's polling.
    out.bench = per100k(senderTicks);
    out.answeredRate = Math.round(ALERTS / (wall.answeredMs / 1000));
    out.storedRate = Math.round(ALERTS / (wall.storedMs / 1000));
    // Backends flush their table counters within a second of going idle.
    await new Promise((r) => setTimeout(r, 1500));
    await client.query("SELECT pg_stat_clear_snapshot()");
    const updAfter = await updates();
    out.updates = Number(updAfter.upd) - Number(updBefore.upd);
    out.workerRssMb = ops.peakRssMb().worker;
    out.walMb = Number((await client.query<{ mb: number }>("SELECT pg_wal_lsn_diff($1, $2) / 1e6 AS mb", [await walAt(), walBefore])).rows[0]!.mb);
    out.hot = Number(updAfter.hot) - Number(updBefore.hot);
    return out;
  } finally {
    await cleanup.run();
  }
}

export async function run(): Promise<number> {
  say(`bench alertmanager-cpu: ${ALERTS} alerts (${WORKLOAD}) after ${WARM} warm-up, ${RUNS} run(s); CPU seconds per 100,000 alerts`);
  const w = workloads();
  for (let i = 1; i <= RUNS; i++) {
    const am = await measureAlertmanager(w);
    const r = await measureOnce(i, w);
    const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    const opsbus = r.gateway! + r.worker! + r.postgres! + r.nats!;
    say(
      am
        ? `run ${i}: Alertmanager ${am.alertmanager!.toFixed(2)} s (${am.faults} minor page faults), its sender ${am.bench!.toFixed(2)} s, answered ${am.answeredRate} alerts/s; opsbus (gateway + worker + Postgres + nats-server) ${opsbus.toFixed(2)} s, ${(opsbus / am.alertmanager!).toFixed(1)}× Alertmanager's`
        : `run ${i}: Alertmanager not measured (no binary: apt-get install prometheus-alertmanager)`,
    );
    say(`run ${i}: minor page faults: gateway ${r.gatewayFaults}, ingest worker ${r.workerFaults}, nats-server ${r.natsFaults}`);
    say(`run ${i}: gateway ${r.gateway!.toFixed(2)} s, ingest worker ${r.worker!.toFixed(2)} s, Postgres ${r.postgres!.toFixed(2)} s, nats-server ${r.nats!.toFixed(2)} s, bench (sender) ${r.bench!.toFixed(2)} s; answered ${r.answeredRate} alerts/s, stored end to end ${r.storedRate} alerts/s${am ? ` (${(r.storedRate! / am.answeredRate!).toFixed(2)}× Alertmanager's answered rate)` : ""}; alerts rows updated ${r.updates}, ${r.hot} of them HOT; worker peak RSS ${r.workerRssMb!.toFixed(0)} MB; WAL ${r.walMb!.toFixed(0)} MB (load ${load})`);
    if (FLOOR) {
      const f = await measureFloor(`run ${i}`, ALERTS, w);
      const total = f.gateway + f.worker + f.postgres + f.nats;
      const vsAm = am ? `: ${(f.storedRate / am.answeredRate!).toFixed(2)}× Alertmanager's answered rate` : "";
      say(`run ${i}: floor ${total.toFixed(2)} s (gateway ${f.gateway.toFixed(2)}, worker ${f.worker.toFixed(2)}, Postgres ${f.postgres.toFixed(2)}, nats-server ${f.nats.toFixed(2)}), sender ${f.bench.toFixed(2)} s; answered ${f.answeredRate} alerts/s, stored end to end ${f.storedRate} alerts/s${vsAm}`);
    }
  }
  return 0;
}

if (process.argv[1]?.endsWith("alertmanager-cpu.ts")) process.exitCode = await run();
