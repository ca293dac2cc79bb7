/**
 * A crash loop: while alerts stream in and a per-second job fires, a random worker process
 * (ingest, triage, job runner, graph worker) is killed with SIGKILL every few seconds, ten times,
 * and restarted at once. Afterwards the alert invariants hold (each acknowledged publish stored
 * once, one incident per signature, nothing unacked), every triage report run succeeded, and
 * every scheduled slot has exactly one successful run in the Postgres ledger: a run a killed runner
 * was executing is recorded failed (abandoned) and the slot re-run automatically.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setTimeout as delay } from "node:timers/promises";
import { naming, subjects } from "../../src/subjects/index.js";
import { writeTaskRegistry } from "../harness/jobs.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { waitFor } from "../harness/wait.js";
import { connectObserver, countRows, postgresWorkerEnv } from "../harness/workers.js";
import { assertAlertInvariants, FULL_SCALE, publisherReached, publishAlerts, waitDrained, type AlertMix } from "./support.js";

const s = subjects(naming());
const MIX: AlertMix = FULL_SCALE ? { total: 100_000, signatures: 1_000, tag: "cl" } : { total: 6_000, signatures: 200, tag: "cl" };
const KILLS = 10;
/** The deliberate spacing between kills: long enough for a restarted worker to get back to work. */
const KILL_EVERY_MS = FULL_SCALE ? 8_000 : 2_000;
/** Job triggers and graph runs held by a killed worker come back after their consumers' 60 s ack_wait. */
const DRAIN_TIMEOUT_MS = FULL_SCALE ? 600_000 : 180_000;
const ROLES = ["alerts-in", "triage", "jobs", "graph-runs"] as const;
type Role = (typeof ROLES)[number];

/** Current status of each run: its highest-numbered transition. */
const RUN_STATUS = `
  SELECT r.id, r.slot, r.trigger, t.status, t.error_code, t.error_message FROM job_runs r
  JOIN LATERAL (SELECT * FROM job_run_transitions x WHERE x.run_id = r.id ORDER BY n DESC LIMIT 1) t ON true
  WHERE r.task_id = 'tick'`;

test(`crash loop: kill -9 a random worker ${KILLS} times during ${MIX.total} alerts and a per-second job → nothing lost or doubled`, async () => {
  const started = Date.now();
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  const tasks = writeTaskRegistry({
    defaults: { lease_seconds: 2 },
    // overlap allow: a slot after a killed run must not be skipped while the dead run's lease runs out.
    tasks: [{ id: "tick", cron: "* * * * * *", tool: "test_tool", action: "work", catchup_window_minutes: 0, overlap: "allow" }],
  });
  // Short ack_wait: what a killed ingest or triage worker held comes back in seconds.
  const policy = { "alert_routing_policy.yml": { ingest: { ack_wait_seconds: 5 }, work: { ack_wait_seconds: 5, backoff_seconds: [1, 2, 5] } } };
  const env = {
    ...postgresWorkerEnv(nats.url, db.url, policy, "crash-loop"),
    JOB_BACKEND: "postgres", JOB_DATABASE_URL: db.url, RISK_BACKEND: "memory", BACKLOG_BACKEND: "memory", TASK_REGISTRY: tasks,
  };
  let generation = 0;
  const nodeIds = new Map<OpsbusProcess, string>();
  const spawnRole = (role: Role) => {
    const e = { ...env, NODE_ID: `${role}-${++generation}` };
    const p = role === "jobs" ? spawnOpsbus([], e, "test/harness/job-runner-main.ts") : spawnOpsbus(["worker", role], e);
    nodeIds.set(p, e.NODE_ID);
    return p;
  };
  /** Job runners killed: a run one of them held mid-execution is recorded failed (abandoned), by design. */
  const killedRunners: string[] = [];
  const workers = new Map<Role, OpsbusProcess>();
  const { js, jsm, db: client, close: closeObserver } = await connectObserver(nats.url, db.url);
  let scheduler: OpsbusProcess | undefined;
  try {
    // One process provisions the streams first, so the others start against them.
    workers.set("alerts-in", spawnRole("alerts-in"));
    await waitFor(async () => (await jsm.consumers.info(s.alerts.stream, s.alerts.ingestConsumer)).num_waiting > 0, { timeoutMs: 60_000, message: "ingest worker pulling" });
    for (const role of ["triage", "jobs", "graph-runs"] as const) workers.set(role, spawnRole(role));
    const pulling = [[s.alerts.workStream, s.alerts.workConsumer], [s.jobs.stream, s.jobs.consumer], [s.graphs.stream, s.graphs.consumer]] as const;
    for (const [stream, consumer] of pulling) {
      await waitFor(async () => (await jsm.consumers.info(stream, consumer)).num_waiting > 0, { timeoutMs: 60_000, message: `${consumer} has a worker pulling` });
    }
    scheduler = spawnOpsbus(["worker", "scheduler"], { ...env, NODE_ID: "scheduler" });
    // The schedule is firing before the first alert, so every kill falls among running slots.
    await waitFor(async () => (await jsm.streams.info(s.jobs.stream)).state.last_seq > 0, { timeoutMs: 60_000, message: "the first job slot triggered" });

    // Paced over the kill window, so every kill falls inside the stream.
    const pub = publishAlerts(js, s, MIX, { ratePerSec: MIX.total / ((KILLS * KILL_EVERY_MS) / 1000) });
    await publisherReached(pub, MIX.total * 0.1);
    // A fixed seed per run would hide orders we never tried; the log line names this run's order.
    const order: string[] = [];
    const absorbedAtKill: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const role = ROLES[Math.floor(Math.random() * ROLES.length)]!;
      const victim = workers.get(role)!;
      absorbedAtKill.push(await countRows(client, "SELECT count(*) AS n FROM alerts WHERE status = 'acked'"));
      await victim.kill9();
      if (role === "jobs") killedRunners.push(nodeIds.get(victim)!);
      order.push(`${role}@${absorbedAtKill.at(-1)}`);
      workers.set(role, spawnRole(role));
      await delay(KILL_EVERY_MS);
    }
    assert.ok(absorbedAtKill[0]! < MIX.total, `the first kill came mid-stream (${absorbedAtKill[0]} of ${MIX.total} absorbed)`);

    await pub.done;
    // No new slots from here: the set of triggers to account for is fixed.
    await scheduler.stop();
    await waitDrained(client, jsm, s, MIX.total, DRAIN_TIMEOUT_MS);
    await assertAlertInvariants(client, jsm, s, MIX, pub.acked);

    // Triage report runs: each queued run was executed to success despite graph workers dying mid-run.
    await waitFor(async () => {
      const c = await jsm.consumers.info(s.graphs.stream, s.graphs.consumer);
      return c.num_pending + c.num_ack_pending === 0 && (await countRows(client, "SELECT count(*) AS n FROM graph_runs WHERE status <> 'succeeded'")) === 0;
    }, { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 500, message: "every graph run succeeded and the graph consumer is empty" });
    assert.ok((await countRows(client, "SELECT count(*) AS n FROM graph_runs")) >= MIX.signatures, "a triage run per incident at least");

    // Job slots: every trigger the stream stored (one per slot, deduped by Nats-Msg-Id) has exactly one run, which succeeded.
    await waitFor(async () => {
      const c = await jsm.consumers.info(s.jobs.stream, s.jobs.consumer);
      const open = await countRows(client, `SELECT count(*) AS n FROM (${RUN_STATUS}) x WHERE status IN ('queued', 'running')`);
      return c.num_pending + c.num_ack_pending === 0 && open === 0;
    }, { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 500, message: "job consumer empty and no run queued or running" });
    // The stream holds one trigger per slot (deduped by Nats-Msg-Id) plus one per automatic re-run.
    const triggers = (await jsm.streams.info(s.jobs.stream)).state.last_seq;
    const runs = await client.query<{ slot: Date; trigger: string; status: string; error_code: string | null; error_message: string | null }>(RUN_STATUS);
    const scheduled = runs.rows.filter((r) => r.trigger === "schedule");
    const slots = new Set(scheduled.map((r) => r.slot.toISOString()));
    assert.ok(slots.size >= (KILLS * KILL_EVERY_MS) / 1000 - 2, `the scheduler fired every second (${slots.size} slots)`);
    assert.is(scheduled.length, slots.size, "one scheduled run per slot");
    assert.is(runs.rows.length, triggers, "one run per stored trigger (slots and re-runs)");
    // A run a killed runner was executing is abandoned once its lease expires, and its slot re-run.
    const abandoned = runs.rows.filter((r) => r.status === "failed" && r.error_code === "abandoned" && killedRunners.some((id) => r.error_message?.includes(`jobs@${id}:`)));
    const notOk = runs.rows.filter((r) => r.status !== "succeeded" && !abandoned.includes(r));
    assert.equal(notOk, [], "every run succeeded, or was abandoned by a killed runner");
    for (const slot of slots) {
      const ok = runs.rows.filter((r) => r.slot.toISOString() === slot && r.status === "succeeded");
      assert.is(ok.length, 1, `slot ${slot}: exactly one successful run`);
    }

    console.log(
      `  kills (role@alerts absorbed so far) ${order.join(", ")} of ${MIX.total}; publish retries ${pub.retries}; ` +
        `${slots.size} job slots, ${abandoned.length} abandoned by ${killedRunners.length} runner kills and re-run; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } catch (err) {
    for (const [role, w] of workers) console.error(`--- ${role}\n${w.output().slice(-2000)}`);
    throw err;
  } finally {
    await Promise.all([...workers.values(), ...(scheduler ? [scheduler] : [])].map((w) => w.stop()));
    await closeObserver();
    await nats.cleanup();
    await db.drop();
  }
});

test.run();
