/**
 * The scheduler: two scheduler processes side by side give exactly one run per slot (no leader
 * election, Nats-Msg-Id `<task>@<slot>`), and a slot missed while no scheduler ran is caught up
 * once at start-up.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTaskRegistry } from "../../src/config/jobs-policy.js";
import type { RunningWorker } from "../../src/workers/types.js";
import { startScheduler } from "../../src/app/jobs.js";
import { startRunnerWithHoldTool, writeTaskRegistry } from "../harness/jobs.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { startStack, testClock, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const SLOTS = 10;
const LEAD_MS = 20_000;

/** A cron (with seconds) for SLOTS consecutive seconds inside one minute, starting ≥ LEAD_MS from now. */
function tenSecondCron(): { cron: string; slots: string[] } {
  let t = new Date(Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000);
  if (t.getUTCSeconds() > 60 - SLOTS) t = new Date(Math.ceil(t.getTime() / 60_000) * 60_000 + 2000);
  const s = t.getUTCSeconds();
  const cron = `${s}-${s + SLOTS - 1} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
  const slots = Array.from({ length: SLOTS }, (_, i) => new Date(t.getTime() + i * 1000).toISOString().replace(".000Z", "Z"));
  return { cron, slots };
}

const { cron, slots } = tenSecondCron();
const tick = { id: "tick", cron, tool: "test_tool", action: "work", catchup_window_minutes: 0 };
const hourly = { id: "hourly", cron: "0 * * * *", tool: "test_tool", action: "work", catchup_window_minutes: 90 };
const RUNNER_TASKS = writeTaskRegistry({ tasks: [tick, hourly] });
const clock = testClock();
let stack: Stack;
let runner: RunningWorker;

test.before(async () => {
  stack = await startStack({ roles: ["gateway"], env: { TASK_REGISTRY: RUNNER_TASKS }, now: clock.now });
  runner = await startRunnerWithHoldTool(stack.running.ctx);
});
test.after(async () => {
  await runner.stop();
  await stack.stop();
});

test(`two scheduler processes, a per-second schedule for ${SLOTS} slots → exactly ${SLOTS} runs`, async () => {
  const env = {
    NATS_URL: stack.nats.url, OPSBUS_START_NATS: "0", LOG_LEVEL: "info", TASK_REGISTRY: writeTaskRegistry({ tasks: [tick] }),
    ALERT_BACKEND: "memory", AUDIT_BACKEND: "memory", INCIDENT_BACKEND: "memory", JOB_BACKEND: "memory",
  };
  const procs: OpsbusProcess[] = ["sched-a", "sched-b"].map((id) =>
    spawnOpsbus(["worker", "scheduler"], { ...env, NODE_ID: id, DATA_DIR: mkdtempSync(join(tmpdir(), `opsbus-${id}-`)) }),
  );
  try {
    await waitFor(() => procs.every((p) => p.output().includes("scheduler started")), { timeoutMs: LEAD_MS - 2000, message: "both schedulers started before the first slot" });
    const ledger = stack.running.ctx.stores.jobs;
    const j = stack.running.ctx.subjects.jobs;
    await waitFor(async () => (await ledger.list({ task_id: "tick", status: ["succeeded"] })).length >= SLOTS, { timeoutMs: LEAD_MS + 20_000, message: `${SLOTS} tick runs` });
    // Both schedulers published every slot; the stream stored each slot once (its sequence says how many it ever stored).
    await waitFor(async () => {
      const c = await stack.running.ctx.jsm.consumers.info(j.stream, j.consumer);
      return c.num_pending === 0 && c.num_ack_pending === 0 && Date.now() > Date.parse(slots.at(-1)!) + 1000;
    }, { timeoutMs: 15_000, message: "trigger consumer idle after the last slot" });
    const stored = (await stack.running.ctx.jsm.streams.info(j.stream)).state.last_seq;
    const runs = await ledger.list({ task_id: "tick", limit: 100 });
    assert.is(runs.length, SLOTS, "exactly one run per slot");
    assert.equal(runs.map((r) => r.slot).sort(), slots);
    assert.ok(runs.every((r) => r.status === "succeeded" && r.trigger === "schedule"));
    assert.is(stored, SLOTS, "the stream kept one trigger per slot");
  } catch (err) {
    for (const p of procs) console.error(p.output().slice(-3000));
    throw err;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
});

test("catch-up: a slot missed during downtime runs once at start-up (two schedulers starting together)", async () => {
  const tasks = parseTaskRegistry({ tasks: [hourly] });
  const ctx = stack.running.ctx;
  const ledger = ctx.stores.jobs;
  const hourOf = (d: Date) => new Date(Math.floor(d.getTime() / 3_600_000) * 3_600_000).toISOString().replace(".000Z", "Z");
  const slotRun = (slot: string) => ledger.getByKey(`hourly@${slot}`);

  const first = hourOf(clock.now());
  const s1 = await startScheduler(ctx, { tasks });
  await waitFor(async () => (await slotRun(first))?.status === "succeeded", { message: `hourly@${first} caught up` });
  await s1.stop();

  clock.advance(150); // 2.5 h with no scheduler
  const missed = hourOf(clock.now());
  const both: RunningWorker[] = [await startScheduler(ctx, { tasks }), await startScheduler(ctx, { tasks })];
  try {
    await waitFor(async () => (await slotRun(missed))?.status === "succeeded", { message: `hourly@${missed} caught up` });
    const again = await startScheduler(ctx, { tasks }); // a restart within the window does not repeat it
    both.push(again);
    const j = ctx.subjects.jobs;
    await waitFor(async () => {
      const c = await ctx.jsm.consumers.info(j.stream, j.consumer);
      return c.num_pending === 0 && c.num_ack_pending === 0;
    }, { message: "trigger consumer idle" });
    const runs = await ledger.list({ task_id: "hourly", limit: 100 });
    const bySlot = new Map<string, number>();
    for (const r of runs) bySlot.set(r.slot, (bySlot.get(r.slot) ?? 0) + 1);
    assert.is(bySlot.get(first), 1);
    assert.is(bySlot.get(missed), 1, "the missed slot ran exactly once");
    const between = runs.filter((r) => r.slot > first && r.slot < missed);
    assert.equal(between, [], "only the latest missed slot is caught up");
  } finally {
    for (const s of both) await s.stop();
  }
});

test.run();
