/**
 * kill -9 of a job runner mid-run: the run stays `running` until its lease expires, then another
 * runner's sweep records it `failed` (abandoned); a re-run of it succeeds, and a scheduled slot is
 * re-run by the sweep itself. Ledger in Postgres.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { loadTaskRegistry } from "../../src/config/jobs-policy.js";
import { JobRuns } from "../../src/jobs/runs.js";
import { EventPublisher } from "../../src/nats/events.js";
import { PostgresJobLedgerStore } from "../../src/stores/jobs/postgres.js";
import { createPool } from "../../src/stores/pg.js";
import { naming, subjects } from "../../src/subjects/index.js";
import { captureLogger } from "../harness/logs.js";
import { holdFile, writeTaskRegistry } from "../harness/jobs.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { reapAtExit } from "../harness/reaper.js";
import { waitFor } from "../harness/wait.js";

function spawnRunner(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "test/harness/job-runner-main.ts"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  reapAtExit(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return {
    output: () => out,
    async kill(signal: NodeJS.Signals) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = once(child, "exit");
      child.kill(signal);
      await done;
    },
  };
}

/** Two runners (the second started by the scenario) on a suite-owned server and Postgres ledger. */
interface Rig {
  store: PostgresJobLedgerStore;
  runs: JobRuns;
  first: ReturnType<typeof spawnRunner>;
  startSecond(): ReturnType<typeof spawnRunner>;
}

async function withRunners(tasks: Record<string, unknown>, scenario: (rig: Rig) => Promise<void>): Promise<void> {
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  const tasksPath = writeTaskRegistry(tasks);
  const env = (id: string) => ({
    NATS_URL: nats.url, OPSBUS_START_NATS: "0", LOG_LEVEL: "info", NODE_ID: id, TASK_REGISTRY: tasksPath,
    JOB_BACKEND: "postgres", JOB_DATABASE_URL: db.url, ALERT_BACKEND: "memory", AUDIT_BACKEND: "memory", INCIDENT_BACKEND: "memory",
    DATA_DIR: mkdtempSync(join(tmpdir(), `opsbus-${id}-`)),
  });
  const first = spawnRunner(env("runner-1"));
  let second: ReturnType<typeof spawnRunner> | undefined;
  const nc = await connect({ servers: nats.url });
  const store = new PostgresJobLedgerStore({ pool: createPool(db.url) });
  const subs = subjects(naming());
  try {
    await waitFor(() => first.output().includes("job runner started"), { timeoutMs: 30_000, message: "runner 1 started" });
    await store.init();
    const js = jetstream(nc);
    const runs = new JobRuns({ store, tasks: loadTaskRegistry(tasksPath), js, subjects: subs, events: new EventPublisher(js, subs, "test"), logger: captureLogger().logger, now: () => new Date() });
    await scenario({ store, runs, first, startSecond: () => (second = spawnRunner(env("runner-2"))) });
  } catch (err) {
    console.error(first.output().slice(-3000));
    console.error(second?.output().slice(-3000));
    throw err;
  } finally {
    await first.kill("SIGKILL");
    await second?.kill("SIGTERM");
    await store.close();
    await nc.close();
    await nats.cleanup();
    await db.drop();
  }
}

test("kill -9 of a runner mid-run → the run ends failed (abandoned); a re-run succeeds", () =>
  withRunners({ defaults: { lease_seconds: 2 }, tasks: [{ id: "long", cron: "0 0 1 1 *", tool: "test_tool", action: "work" }] }, async ({ store, runs, first, startSecond }) => {
    const hold = holdFile();
    const { run } = await runs.startManual({ task_id: "long", inputs: { hold: hold.path }, requested_by: "test" });
    await waitFor(async () => (await store.get(run.id))?.status === "running", { message: "run running on runner 1" });
    await first.kill("SIGKILL");
    assert.is((await store.get(run.id))?.status, "running", "a dead runner's run still looks running until its lease expires");

    startSecond();
    const failed = await waitFor(async () => {
      const r = await store.get(run.id);
      return r?.status === "failed" ? r : null;
    }, { timeoutMs: 30_000, message: "run failed (abandoned)" });
    assert.equal([failed.error_code, failed.transitions.map((t) => t.status)], ["abandoned", ["queued", "running", "failed"]]);
    assert.match(failed.error_message ?? "", /lease of jobs@runner-1/);

    hold.release();
    const { run: rerun } = await runs.startManual({ task_id: "long", rerun_of: run.id, requested_by: "test" });
    assert.equal([rerun.rerun_of, rerun.slot, rerun.inputs], [run.id, run.slot, run.inputs]);
    const done = await waitFor(async () => {
      const r = await store.get(rerun.id);
      return r?.status === "succeeded" ? r : null;
    }, { timeoutMs: 20_000, message: "re-run succeeded" });
    assert.is(done.transitions.find((t) => t.status === "running")?.node_id, "runner-2");
    const again = await runs.startManual({ task_id: "long", rerun_of: run.id, requested_by: "test" });
    assert.is(again.run.id, rerun.id, "re-running the same run twice gives the same re-run");
    const refused = await runs.startManual({ task_id: "long", rerun_of: rerun.id, requested_by: "test" }).catch((e: { code?: string }) => e.code);
    assert.is(refused, "conflict", "a succeeded run is not re-run");
  }));

test("kill -9 of a runner mid-run of a scheduled slot → abandoned, then re-run automatically: the slot gets one successful run", async () => {
  const hold = holdFile();
  const tasks = {
    defaults: { lease_seconds: 2 },
    tasks: [{ id: "held", cron: "0 0 1 1 *", tool: "test_tool", action: "work", inputs: { hold: hold.path }, catchup_window_minutes: 0 }],
  };
  try {
    await withRunners(tasks, async ({ store, runs, first, startSecond }) => {
      const slot = "2026-01-01T00:00:00Z";
      await runs.trigger({ trigger: "schedule", task_id: "held", slot, scheduler: "test" });
      const scheduled = await waitFor(async () => (await store.list({ task_id: "held" })).find((r) => r.status === "running"), { message: "the slot's run running on runner 1" });
      await first.kill("SIGKILL");

      const second = startSecond();
      const rerun = await waitFor(async () => (await store.list({ task_id: "held" })).find((r) => r.rerun_of === scheduled.id), { timeoutMs: 30_000, message: "an automatic re-run of the abandoned run" });
      assert.equal([rerun.slot, rerun.requested_by], [scheduled.slot, "runner:abandoned"]);
      hold.release();
      await waitFor(async () => (await store.get(rerun.id))?.status === "succeeded", { timeoutMs: 20_000, message: "the re-run succeeded" });
      const ledger = await store.list({ task_id: "held" });
      assert.equal(ledger.map((r) => [r.id, r.status, r.error_code ?? null]).sort(), [[scheduled.id, "failed", "abandoned"], [rerun.id, "succeeded", null]].sort());
      assert.ok(second.output().includes("abandoned scheduled run re-run"), "the runner says why it ran the slot again");
    });
  } finally {
    hold.release();
  }
});

test("a sweeper killed between abandoning a scheduled run and re-running it: the next sweep re-runs the slot", async () => {
  const hold = holdFile();
  const tasks = {
    defaults: { lease_seconds: 2 },
    tasks: [{ id: "held", cron: "0 0 1 1 *", tool: "test_tool", action: "work", inputs: { hold: hold.path }, catchup_window_minutes: 0 }],
  };
  try {
    await withRunners(tasks, async ({ store, runs, first, startSecond }) => {
      await runs.trigger({ trigger: "schedule", task_id: "held", slot: "2026-01-01T00:00:00Z", scheduler: "test" });
      const scheduled = await waitFor(async () => (await store.list({ task_id: "held" })).find((r) => r.status === "running"), { message: "the slot's run running on runner 1" });
      await first.kill("SIGKILL");
      // The test is the sweeper that marks the run abandoned and dies before re-running it.
      await waitFor(async () => (await store.sweepExpired(new Date())).some((r) => r.id === scheduled.id), { timeoutMs: 20_000, message: "the run's lease expired and it was swept" });
      assert.is((await store.list({ task_id: "held" })).length, 1, "abandoned, and no re-run yet");
      hold.release();
      startSecond();
      const rerun = await waitFor(async () => (await store.list({ task_id: "held" })).find((r) => r.rerun_of === scheduled.id && r.status === "succeeded"), { timeoutMs: 30_000, message: "the slot re-run by a later sweep, and succeeded" });
      assert.is(rerun.requested_by, "runner:abandoned");
      assert.is((await store.list({ task_id: "held" })).length, 2, "one re-run, however many sweeps saw it");
    });
  } finally {
    hold.release();
  }
});

test.run();
