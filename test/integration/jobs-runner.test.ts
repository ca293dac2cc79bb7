/**
 * The job runner in-process with test_tool: duplicate triggers, run_token idempotency, cancel,
 * overlap, requires, dry runs, disabled tasks, events, audit, and the ledger export.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkTasksAgainstTools, loadTaskRegistry } from "../../src/config/jobs-policy.js";
import { entitlementsOf, roleOf } from "../../src/gateway/index.js";
import { exportLedger, parseExport, verifyExport } from "../../src/jobs/export.js";
import { buildToolRegistry } from "../../src/app/tools.js";
import { MemoryJobLedgerStore } from "../../src/stores/jobs/memory.js";
import type { JobRun } from "../../src/jobs/ledger-store.js";
import type { RunningWorker } from "../../src/workers/types.js";
import { holdFile, startRunnerWithHoldTool, writeTaskRegistry, type HoldCall } from "../harness/jobs.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const work = { tool: "test_tool", action: "work", cron: "0 0 1 1 *" };
const TASKS = writeTaskRegistry({
  defaults: { catchup_window_minutes: 0, lease_seconds: 3 },
  tasks: [
    { id: "quick", ...work },
    { id: "slow", ...work },
    { id: "digest", ...work },
    { id: "after_digest", ...work, requires: [{ task: "digest", within: "iso_week" }] },
    { id: "no_dry", ...work, dry_run: "unsupported" },
    { id: "off", ...work, enabled: false },
    { id: "fails", ...work, inputs: { fail: true } },
  ],
});

let stack: Stack;
let runner: RunningWorker;
const calls: HoldCall[] = [];

test.before(async () => {
  stack = await startStack({ roles: ["gateway"], env: { TASK_REGISTRY: TASKS } });
  // test_tool's limit goes to the runner, which serves it; the gateway would refuse a limit for a tool it does not serve.
  const ctx = stack.running.ctx;
  const toolLimits = { ...ctx.policies.toolLimits, tools: { ...ctx.policies.toolLimits.tools, test_tool: { timeout_ms: 60_000 } } };
  runner = await startRunnerWithHoldTool({ ...ctx, policies: { ...ctx.policies, toolLimits } }, calls);
});
test.after(async () => {
  await runner.stop();
  await stack.stop();
});

async function start(params: Record<string, unknown>): Promise<{ run: JobRun; created: boolean }> {
  const reply = await stack.call<{ run: JobRun; created: boolean }>("jobs_tool", "start_task", params, { agent: "sofiia" });
  if (!reply.ok) throw new Error(`start_task: ${JSON.stringify(reply.error)}`);
  return reply.result;
}
const getRun = async (id: string): Promise<JobRun> => {
  const reply = await stack.call<{ run: JobRun }>("jobs_tool", "get_run", { run_id: id }, { agent: "sofiia" });
  if (!reply.ok) throw new Error(JSON.stringify(reply.error));
  return reply.result.run;
};
const untilStatus = (id: string, status: string) =>
  waitFor(async () => {
    const r = await ledger().get(id);
    return r?.status === status ? r : null;
  }, { message: `run ${id} ${status}`, timeoutMs: 15_000 });
const ledger = () => stack.running.ctx.stores.jobs;

test("a scheduled trigger published twice (and once more past the dedupe window) gives one run", async () => {
  const subj = stack.running.ctx.subjects.jobs;
  const slot = "2026-01-01T00:00:00Z"; // a slot of quick's cron (0 0 1 1 *): any other is refused as forged
  const body = JSON.stringify({ trigger: "schedule", task_id: "quick", slot, scheduler: "test" });
  const first = await stack.js.publish(subj.trigger("quick"), body, { msgID: subj.slotMsgId("quick", slot) });
  const second = await stack.js.publish(subj.trigger("quick"), body, { msgID: subj.slotMsgId("quick", slot) });
  assert.is(second.duplicate, true, "the stream drops the second publish");
  await waitFor(async () => (await ledger().getByKey(`quick@${slot}`))?.status === "succeeded", { message: "quick run succeeded" });
  // As if the duplicate window had passed: a new message id, same slot. The ledger's key holds.
  await stack.js.publish(subj.trigger("quick"), body, { msgID: `${first.seq}-again` });
  const consumer = () => stack.running.ctx.jsm.consumers.info(subj.stream, subj.consumer);
  await waitFor(async () => {
    const c = await consumer();
    return c.num_pending === 0 && c.num_ack_pending === 0 && c.delivered.stream_seq >= first.seq + 1;
  }, { message: "trigger consumed" });
  const runs = await ledger().list({ task_id: "quick" });
  assert.is(runs.length, 1);
  assert.equal([runs[0]!.trigger, runs[0]!.slot, runs[0]!.status, runs[0]!.outputs], ["schedule", slot, "succeeded", { done: true, dry_run: false, tag: null }]);
  assert.equal(runs[0]!.transitions.map((t) => t.status), ["queued", "running", "succeeded"]);
  const evs = stack.events().filter((e) => e.data.run_id === runs[0]!.id).map((e) => e.type);
  await waitFor(() => stack.events().filter((e) => e.data.run_id === runs[0]!.id).length >= 3, { message: "job events" });
  assert.equal(stack.events().filter((e) => e.data.run_id === runs[0]!.id).map((e) => e.type), ["job.queued", "job.running", "job.succeeded"], String(evs));
  // Executed through the gateway core: audited as the scheduler service account.
  const audit = await waitFor(async () => {
    const recs = await stack.running.ctx.stores.audit.query({ tool: "test_tool" });
    return recs.length ? recs : null;
  }, { message: "audit record of the run" });
  assert.ok(audit.some((a) => a.agent_id === "scheduler" && a.role === "svc_scheduler" && a.channel === "scheduler" && a.status === "ok"));
});

test("run_token reuse returns the same run; the token with other inputs is a conflict", async () => {
  const a = await start({ task_id: "quick", run_token: "tok-1", inputs: { tag: "x" } });
  const b = await start({ task_id: "quick", run_token: "tok-1", inputs: { tag: "x" } });
  assert.equal([a.created, b.created, b.run.id], [true, false, a.run.id]);
  const done = await untilStatus(a.run.id, "succeeded");
  const c = await start({ task_id: "quick", run_token: "tok-1", inputs: { tag: "x" } });
  assert.equal([c.run.id, c.run.status, c.run.transitions.length], [a.run.id, "succeeded", done.transitions.length], "a finished run is not run again");
  const other = await stack.call("jobs_tool", "start_task", { task_id: "quick", run_token: "tok-1", inputs: { tag: "y" } }, { agent: "sofiia" });
  assert.equal(other.ok ? "ok" : other.error.code, "conflict");
  assert.is(calls.filter((x) => x.params.tag === "x").length, 1, "the action ran once");
});

test("cancel of a running job aborts its action; cancel is idempotent", async () => {
  const hold = holdFile();
  const { run } = await start({ task_id: "slow", inputs: { hold: hold.path } });
  await untilStatus(run.id, "running");
  const c1 = await stack.call<{ run: JobRun }>("jobs_tool", "cancel", { run_id: run.id }, { agent: "sofiia" });
  assert.ok(c1.ok && c1.result.run.cancel_requested);
  const canceled = await untilStatus(run.id, "canceled");
  await waitFor(() => calls.some((x) => x.params.hold === hold.path && x.aborted), { message: "the action saw its AbortSignal" });
  assert.ok((await getRun(run.id)).transitions.some((t) => t.status === "running"));
  const c2 = await stack.call<{ run: JobRun }>("jobs_tool", "cancel", { run_id: run.id }, { agent: "sofiia" });
  assert.ok(c2.ok);
  assert.equal(c2.ok && [c2.result.run.status, c2.result.run.transitions.length], ["canceled", canceled.transitions.length]);
  hold.release();
  const missing = await stack.call("jobs_tool", "cancel", { run_id: "job_nope" }, { agent: "sofiia" });
  assert.equal(missing.ok ? "ok" : missing.error.code, "not_found");
});

test("overlap: a slot arriving while a run of the task is running is recorded as skipped", async () => {
  const hold = holdFile();
  const { run } = await start({ task_id: "slow", inputs: { hold: hold.path } });
  await untilStatus(run.id, "running");
  const second = await start({ task_id: "slow", inputs: { hold: hold.path, tag: "second" } });
  const skipped = await untilStatus(second.run.id, "skipped");
  assert.is(skipped.reason, "overlap");
  hold.release();
  await untilStatus(run.id, "succeeded");
  assert.is(calls.filter((x) => x.params.tag === "second").length, 0);
});

test("requires: skipped until the required task succeeded in the same ISO week (checked in the ledger)", async () => {
  const early = await start({ task_id: "after_digest" });
  const skipped = await untilStatus(early.run.id, "skipped");
  assert.is(skipped.reason, "requires_unmet");
  assert.match(skipped.error_message ?? "", /digest has no succeeded run/);
  const dry = await start({ task_id: "digest", dry_run: true });
  await untilStatus(dry.run.id, "succeeded");
  const still = await untilStatus((await start({ task_id: "after_digest" })).run.id, "skipped");
  assert.is(still.reason, "requires_unmet", "a dry run does not satisfy requires");
  await untilStatus((await start({ task_id: "digest" })).run.id, "succeeded");
  await untilStatus((await start({ task_id: "after_digest" })).run.id, "succeeded");
});

test("dry runs pass dry_run: true or are skipped; disabled tasks and failures are recorded", async () => {
  const dry = await start({ task_id: "quick", dry_run: true, inputs: { tag: "dry" } });
  const done = await untilStatus(dry.run.id, "succeeded");
  assert.equal([done.dry_run, done.outputs], [true, { done: true, dry_run: true, tag: "dry" }]);
  const before = calls.length;
  const nodry = await untilStatus((await start({ task_id: "no_dry", dry_run: true })).run.id, "skipped");
  assert.is(nodry.reason, "dry_run_unsupported");
  const off = await untilStatus((await start({ task_id: "off" })).run.id, "skipped");
  assert.is(off.reason, "disabled");
  assert.is(calls.length, before, "neither action was called");
  const failed = await untilStatus((await start({ task_id: "fails" })).run.id, "failed");
  assert.equal([failed.error_code, failed.error_message], ["conflict", "asked to fail"]);
  const unknown = await stack.call("jobs_tool", "start_task", { task_id: "nope" }, { agent: "sofiia" });
  assert.equal(unknown.ok ? "ok" : unknown.error.code, "not_found");
  const denied = await stack.call("jobs_tool", "start_task", { task_id: "quick" }, { agent: "aistalk" });
  assert.equal(denied.ok ? "ok" : denied.error.code, "forbidden");
});

test("ledger export: NDJSON + manifest whose sha256 verifies; it round-trips into a fresh ledger", async () => {
  const since = new Date(Date.now() - 3600_000).toISOString();
  const until = new Date(Date.now() + 60_000).toISOString();
  const reply = await stack.call<Awaited<ReturnType<typeof exportLedger>>>("jobs_tool", "export", { since, until }, { agent: "sofiia" });
  assert.ok(reply.ok, JSON.stringify(reply));
  const { ndjson, manifest } = reply.ok ? reply.result : (undefined as never);
  assert.ok(verifyExport(ndjson, manifest), "manifest verifies");
  assert.not.ok(verifyExport(ndjson.replace("succeeded", "failed"), manifest), "a changed byte does not");
  const original = await ledger().list({ since, until, limit: 1000, order: "asc" });
  assert.is(manifest.runs, original.length);
  assert.ok(original.length >= 10);
  const fresh = new MemoryJobLedgerStore();
  await fresh.importRows(parseExport(ndjson));
  const back = await fresh.list({ since, until, limit: 1000, order: "asc" });
  assert.equal(back.map((r) => ({ ...r, cancel_requested: false })), original.map((r) => ({ ...r, cancel_requested: false })));
  const again = await exportLedger(fresh, { since, until }, new Date());
  assert.is(again.manifest.sha256, manifest.sha256, "re-exporting the import gives the same bytes");
});

test("the default registry: every task names a served action, svc_scheduler may call it, its inputs (and dry run) parse", async () => {
  const ctx = stack.running.ctx;
  const tasks = loadTaskRegistry("ops/task_registry.yml");
  const tools = buildToolRegistry(ctx, { logger: ctx.logger });
  checkTasksAgainstTools(tasks, tools);
  const granted = entitlementsOf(ctx.policies.rbac, roleOf(ctx.policies.rbac, "scheduler"));
  for (const t of tasks.values()) {
    const def = tools.get(t.tool)!.actions[t.action]!;
    assert.ok(granted.has(def.entitlement), `${t.id}: svc_scheduler lacks ${def.entitlement}`);
    const params = t.dry_run === "param" ? { ...t.inputs, dry_run: true } : t.inputs;
    const parsed = def.params.safeParse(params);
    assert.ok(parsed.success, `${t.id}: ${t.tool}.${t.action} refuses ${JSON.stringify(params)}`);
  }
});

test.run();
