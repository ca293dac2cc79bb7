/**
 * Transient failures spend no attempt budget (issue 11, finding 10): a graph run and a job run whose
 * stores throw pg-like connection errors more often than MAX_ATTEMPTS still succeed; a
 * deterministic failure still ends `failed for good` after the budget.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import type { Ctx } from "../../src/app/context.js";
import type { JobRun } from "../../src/jobs/ledger-store.js";
import { buildToolRegistry } from "../../src/app/tools.js";
import { action } from "../../src/tools/types.js";
import { MAX_ATTEMPTS } from "../../src/workers/graph-runs.js";
import { startJobs } from "../../src/app/jobs.js";
import { startIncidentBridge } from "../../src/app/incidents.js";
import type { RunningWorker } from "../../src/workers/types.js";
import { writeTaskRegistry } from "../harness/jobs.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

/** What pg-pool throws when every client is busy and the connect times out (the full crash loop's failure). */
const poolTimeout = () => new Error("timeout exceeded when trying to connect");
const adminShutdown = () => Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });

/**
 * `target` with its named async methods failing: `plan[method]` is how many calls fail first
 * (transiently), or "always" with a deterministic error. `thrown` counts the injected failures.
 */
function flaky<T extends object>(target: T, plan: Record<string, number | { always: () => Error }>): { store: T; thrown: () => number } {
  const left = new Map(Object.entries(plan));
  let thrown = 0;
  const store = new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof prop !== "string" || typeof value !== "function" || !left.has(prop)) return typeof value === "function" ? value.bind(obj) : value;
      return async (...args: unknown[]) => {
        const p = left.get(prop)!;
        if (typeof p === "object") {
          thrown++;
          throw p.always();
        }
        if (p > 0) {
          left.set(prop, p - 1);
          thrown++;
          throw thrown % 2 ? poolTimeout() : adminShutdown();
        }
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
  return { store, thrown: () => thrown };
}

// Retries start at 50 ms instead of 1 s: the same backoff, without a minute of real waiting.
process.env.OPSBUS_RETRY_BASE_MS = "50";

let s: Stack;
let ctx: Ctx;
test.before(async () => {
  // max_deliver 1: any delivery the triage worker gave back would kill its alert.
  s = await startStack({ roles: ["gateway", "alerts-in", "graph-runs"], policies: { alertRouting: { work: { max_deliver: 1 } } } });
  ctx = s.running.ctx;
});
test.after(async () => {
  await s.stop();
});

function ok<T>(reply: { ok: true; result: T } | { ok: false; error: unknown }): T {
  if (!reply.ok) throw new Error(JSON.stringify(reply.error));
  return reply.result;
}

async function triageRun(title: string): Promise<string> {
  const { incident } = ok(await s.call<{ incident: { id: string } }>("oncall_tool", "incident_create", { service: "flaky", severity: "P2", title }, { agent: "helion" }));
  return ok(await s.call<{ run_id: string }>("graphs_tool", "run", { graph: "incident_triage", incident_id: incident.id }, { agent: "helion" })).run_id;
}

const runOf = (id: string) => ctx.stores.incidents.getRun(id);

test("graph run: more transient store failures than MAX_ATTEMPTS, spread over the run, and it still succeeds with no attempt spent", async () => {
  const real = ctx.stores.incidents;
  // The graph worker reads ctx.stores at each delivery; the gateway's tools keep the real store.
  const f = flaky(real, { getRun: 2, updateRun: 2, putArtifact: 2 });
  ctx.stores.incidents = f.store;
  try {
    const runId = await triageRun("slow connect under load");
    const done = await waitFor(async () => ((await real.getRun(runId))?.status === "succeeded" ? real.getRun(runId) : null), { timeoutMs: 60_000, message: "the run succeeded" });
    assert.ok(f.thrown() > MAX_ATTEMPTS, `${f.thrown()} transient failures injected`);
    assert.is(done!.attempts, 0, "transient failures are not attempts");
    assert.equal(done!.artifacts, ["triage_report.md", "triage_report.json"]);
    assert.ok(s.logs.lines().some((l) => /transient failure; retrying/.test(String(l.msg))), "retries are logged");
  } finally {
    ctx.stores.incidents = real;
  }
});

test("graph run: a deterministic failure still ends failed for good after MAX_ATTEMPTS, with graph.failed", async () => {
  const real = ctx.stores.incidents;
  const f = flaky(real, { putArtifact: { always: () => new TypeError("report cannot be stored") } });
  ctx.stores.incidents = f.store;
  try {
    const runId = await triageRun("a bug in the report");
    const failed = await waitFor(async () => {
      const r = await runOf(runId);
      return r?.status === "failed" ? r : null;
    }, { timeoutMs: 60_000, message: "the run failed for good" });
    assert.is(failed.attempts, MAX_ATTEMPTS);
    assert.match(String(failed.error), /report cannot be stored/);
    await waitFor(() => s.events("graph.failed").some((e) => e.data.run_id === runId), { message: "graph.failed" });
  } finally {
    ctx.stores.incidents = real;
  }
});

test("job run: transient ledger failures and a tool answering unavailable are retried; the run succeeds", async () => {
  let toolCalls = 0;
  const flakyTool = {
    name: "test_tool",
    description: "test-only: fails transiently, then works",
    actions: {
      work: action({
        entitlement: "tools.jobs.run",
        description: "throws a pg pool timeout on its first two calls",
        params: z.strictObject({ fail: z.boolean().default(false), dry_run: z.boolean().default(false) }),
        async handler(p) {
          toolCalls++;
          if (p.fail) throw new TypeError("a bug in the task");
          if (toolCalls <= 2) throw poolTimeout();
          return { done: true };
        },
      }),
    },
  };
  const tasks = writeTaskRegistry({
    defaults: { catchup_window_minutes: 0, lease_seconds: 5 },
    tasks: [
      { id: "flaky_job", tool: "test_tool", action: "work", cron: "0 0 1 1 *" },
      { id: "buggy_job", tool: "test_tool", action: "work", cron: "0 0 1 1 *", inputs: { fail: true } },
    ],
  });
  const ledger = flaky(ctx.stores.jobs, { get: 2, startRun: 2, transition: 2 });
  const runnerCtx: Ctx = { ...ctx, env: { ...ctx.env, TASK_REGISTRY: tasks }, stores: { ...ctx.stores, jobs: ledger.store } };
  const registry = buildToolRegistry(ctx, { logger: ctx.logger, extraTools: [flakyTool] });
  const runner: RunningWorker = await startJobs(runnerCtx, { registry });
  try {
    const { jobRunsOf } = await import("../../src/app/jobs.js");
    const runs = jobRunsOf({ ...ctx, env: { ...ctx.env, TASK_REGISTRY: tasks } }, ctx.logger);
    const { run } = await runs.startManual({ task_id: "flaky_job", requested_by: "test" });
    const done = await waitFor(async () => {
      const r = await ctx.stores.jobs.get(run.id);
      return r && r.status !== "queued" && r.status !== "running" ? r : null;
    }, { timeoutMs: 60_000, message: "the job run finished" });
    assert.is(done.status, "succeeded", `${done.status} ${done.error_code ?? ""} ${done.error_message ?? ""}`);
    assert.is(toolCalls, 3, "two unavailable answers, then the success");
    assert.ok(ledger.thrown() >= 6, `${ledger.thrown()} ledger failures injected`);

    const bug = (await runs.startManual({ task_id: "buggy_job", requested_by: "test" })).run;
    const failed: JobRun = await waitFor(async () => {
      const r = await ctx.stores.jobs.get(bug.id);
      return r?.status === "failed" ? r : null;
    }, { timeoutMs: 30_000, message: "the buggy job failed" });
    assert.is(failed.error_code, "internal", "a deterministic failure is not retried");
    assert.is(toolCalls, 4, "called once");
  } finally {
    await runner.stop();
  }
});

test("triage bridge: transient alert- and incident-store failures are waited out holding the batch, no delivery spent", async () => {
  const alerts = flaky(ctx.stores.alerts, { getMany: 2, updateStates: 1 });
  const incidents = flaky(ctx.stores.incidents, { absorbAlerts: 2 });
  const worker = await startIncidentBridge({ ...ctx, stores: { ...ctx.stores, alerts: alerts.store, incidents: incidents.store } });
  try {
    await s.publishAlert({ service: "flaky-bridge", title: "pool exhausted", kind: "latency", env: "prod" });
    const acked = await waitFor(async () => {
      const [a] = await ctx.stores.alerts.list({ service: "flaky-bridge", window_minutes: 60, limit: 5 }, ctx.now());
      return a?.status === "acked" ? a : null;
    }, { timeoutMs: 60_000, message: "the alert absorbed and acked" });
    assert.not.ok(acked.dead, "not dead although max_deliver is 1");
    assert.is(alerts.thrown() + incidents.thrown(), 5);
    assert.is(s.events("alert.dead").length, 0);
    assert.ok(s.events("incident.created").some((e) => e.data.incident_id && String(acked.ack_note).includes(String(e.data.incident_id))), "its incident exists");
  } finally {
    await worker.stop();
  }
});

test.run();
