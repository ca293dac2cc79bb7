/**
 * `npx tsx bench/alertmanager-cpu.ts`: CPU seconds each process of the opsbus Alertmanager intake
 * spends per 100,000 alerts (gateway, ingest worker, the Postgres backends of its database,
 * nats-server), read from /proc/<pid>/stat (utime + stime) around the Alertmanager bench's
 * workload, and the bench's own (the sender's) beside them. CPU time stays meaningful on a busy
 * machine, where wall-clock ratios do not; the answered and stored rates (first POST → last 200,
 * → every batch stored and acked) are printed too. Runs the compiled code (dist/: `npm run build`
 * first) and no Alertmanager.
 *
 * BENCH_AM_CPU_ALERTS (default 100000; label sets = alerts / 10) are measured after
 * BENCH_AM_CPU_WARM (default 10000) warm-up alerts of other label sets; BENCH_AM_CPU_RUNS
 * (default 1) repeats it, each run on fresh processes, streams and database.
 * BENCH_AM_CPU_WORKLOAD: `firings` (default; the Alertmanager bench's: every alert its own startsAt,
 * merged into its label set's firing) or `resends` (Prometheus's steady state: each label set re-sent every round with its
 * startsAt and a new endsAt, so nine alerts in ten only refresh). Postgres's updates of `alerts`
 * are printed with how many were HOT (no index entries written), and the worker's peak RSS.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { naming, subjects } from "../src/subjects/index.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { sendBatches } from "../test/harness/prometheus-sender.js";
import { buildAmWorkload, buildResendWorkload, type AmWorkload } from "./lib/am-workload.js";
import { nodeFlagsFromEnv } from "./lib/child.js";
import { Cleanup } from "./lib/cleanup.js";
import { waitForDrain } from "./lib/drain.js";
import { resetOpsStreams } from "./lib/e2e.js";
import { startOpsbusIntake } from "./lib/opsbus-intake.js";
import { say } from "./lib/progress.js";
import { benchServer } from "./lib/server.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const S = subjects(naming());
const ALERTS = Number(process.env.BENCH_AM_CPU_ALERTS ?? 100_000);
const WARM = Number(process.env.BENCH_AM_CPU_WARM ?? 10_000);
const RUNS = Number(process.env.BENCH_AM_CPU_RUNS ?? 1);
const WORKLOAD = process.env.BENCH_AM_CPU_WORKLOAD ?? "firings";
if (WORKLOAD !== "firings" && WORKLOAD !== "resends") throw new Error(`BENCH_AM_CPU_WORKLOAD is firings or resends, not ${WORKLOAD}`);
/** Extra node flags for the gateway and the worker, space-separated (e.g. `--max-semi-space-size=32`). */
const NODE_FLAGS = nodeFlagsFromEnv("BENCH_AM_CPU_NODE_FLAGS");
/** Clock ticks per second (USER_HZ), as /proc reports utime and stime. */
const TICKS = 100;

/** utime + stime of a process in ticks, or undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** The workload with an extra label on every alert: label sets the measured run does not use. */
function otherLabelSets(w: AmWorkload): AmWorkload {
  const relabel = (body: string) => JSON.stringify((JSON.parse(body) as Array<{ labels: Record<string, string> }>).map((a) => ({ ...a, labels: { ...a.labels, phase: "warm-up" } })));
  return { ...w, bodies: w.bodies.map(relabel) };
}

/** The Postgres backends serving a database: their CPU, sampled until `stop`, so a backend that connects meanwhile counts from 0. */
function watchBackends(client: pg.Client) {
  const start = new Map<number, number>();
  const last = new Map<number, number>();
  const pids = async () => (await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).rows.map((r) => r.pid);
  const sample = async (first: boolean) => {
    for (const pid of await pids()) {
      const t = cpuTicks(pid);
      if (t === undefined) continue;
      if (!start.has(pid)) start.set(pid, first ? t : 0);
      last.set(pid, t);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    async begin() {
      await sample(true);
      timer = setInterval(() => void sample(false).catch(() => undefined), 500);
    },
    async end(): Promise<number> {
      clearInterval(timer);
      await sample(false);
      let ticks = 0;
      for (const [pid, t] of last) ticks += t - (start.get(pid) ?? 0);
      return ticks;
    },
  };
}

async function measureOnce(run: number): Promise<Record<string, number>> {
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
    if (WARM > 0) await post(otherLabelSets(buildAmWorkload(WARM, Math.max(1, Math.floor(WARM / 10)), 7)), "warm-up");

    const workload = (WORKLOAD === "resends" ? buildResendWorkload : buildAmWorkload)(ALERTS, Math.max(1, Math.floor(ALERTS / 10)));
    const updates = async () =>
      (await client.query<{ upd: string; hot: string }>("SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'alerts'")).rows[0] ?? { upd: "0", hot: "0" };
    // Counters as of now, including what other backends flushed so far.
    await client.query("SELECT pg_stat_clear_snapshot()");
    const updBefore = await updates();
    const walAt = async () => (await client.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")).rows[0]!.lsn;
    const walBefore = await walAt();
    const procs = { gateway: ops.gateway.pid, worker: ops.worker.pid, nats: nats.pid };
    const before = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuTicks(pid) ?? 0]));
    const postgres = watchBackends(client);
    await postgres.begin();
    const sender = process.cpuUsage();
    const wall = await post(workload, `run ${run}: ${ALERTS} alerts`);
    const senderUs = process.cpuUsage(sender);
    const pgTicks = await postgres.end();
    const per100k = (ticks: number) => Math.round(((ticks / TICKS) * 100_000 * 100) / ALERTS) / 100;
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(procs)) out[k] = per100k((cpuTicks(pid) ?? 0) - before[k]!);
    out.postgres = per100k(pgTicks);
    // The bench's own process: the sender, and the drain's polling.
    out.bench = per100k(((senderUs.user + senderUs.system) / 1e6) * TICKS);
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
  for (let i = 1; i <= RUNS; i++) {
    const r = await measureOnce(i);
    const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    say(`run ${i}: gateway ${r.gateway!.toFixed(2)} s, ingest worker ${r.worker!.toFixed(2)} s, Postgres ${r.postgres!.toFixed(2)} s, nats-server ${r.nats!.toFixed(2)} s, bench (sender) ${r.bench!.toFixed(2)} s; answered ${r.answeredRate} alerts/s, stored end to end ${r.storedRate} alerts/s; alerts rows updated ${r.updates}, ${r.hot} of them HOT; worker peak RSS ${r.workerRssMb!.toFixed(0)} MB; WAL ${r.walMb!.toFixed(0)} MB (load ${load})`);
  }
  return 0;
}

if (process.argv[1]?.endsWith("alertmanager-cpu.ts")) process.exitCode = await run();
