/** The task registry (zod, cross-checks), crontab rendering, slot arithmetic, and bad triggers. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkTasksAgainstTools, loadTaskRegistry, parseTaskRegistry } from "../../src/config/jobs-policy.js";
import { ConfigError } from "../../src/config/errors.js";
import { renderCrontab } from "../../src/jobs/crontab.js";
import { JobRunner, type RunnerDeps } from "../../src/jobs/runner.js";
import { cronOf, latestSlotWithin, periodOf } from "../../src/jobs/slots.js";
import { captureLogger } from "../harness/logs.js";

const problems = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

test("the default registry holds the SPEC §3.4 jobs at the runbooks' times, run as the scheduler", () => {
  const tasks = loadTaskRegistry("ops/task_registry.yml");
  const view = Object.fromEntries([...tasks.values()].map((t) => [t.id, `${t.cron} ${t.tool}.${t.action}`]));
  assert.equal(view, {
    hourly_risk_snapshot: "0 * * * * risk_history_tool.snapshot",
    daily_risk_digest: "0 9 * * * risk_history_tool.digest",
    risk_history_cleanup: "20 3 * * * risk_history_tool.cleanup",
    weekly_platform_priority_digest: "0 6 * * 1 architecture_pressure_tool.digest",
    weekly_backlog_generate: "20 6 * * 1 backlog_tool.auto_generate_weekly",
    daily_backlog_cleanup: "40 3 * * * backlog_tool.cleanup",
    weekly_incident_digest: "0 8 * * 1 incident_intelligence_tool.weekly_digest",
    audit_cleanup: "30 3 * * * audit_tool.cleanup",
    alert_retention: "50 3 * * * alert_ingest_tool.retention",
  });
  assert.equal(tasks.get("weekly_backlog_generate")?.requires, [{ task: "weekly_platform_priority_digest", within: "iso_week" }]);
  assert.ok([...tasks.values()].every((t) => t.service_account === "scheduler" && t.enabled && t.overlap === "skip"));
});

test("defaults apply; bad cron, duplicate ids, unknown keys and unknown requires are refused by path", () => {
  const t = parseTaskRegistry({ defaults: { lease_seconds: 30 }, tasks: [{ id: "a", cron: "*/5 * * * *", tool: "x", action: "y" }] }).get("a")!;
  assert.equal([t.lease_seconds, t.catchup_window_minutes, t.dry_run, t.inputs, t.enabled], [30, 90, "param", {}, true]);
  assert.match(problems(() => parseTaskRegistry({ tasks: [{ id: "a", cron: "61 * * * *", tool: "x", action: "y" }] }, "reg.yml")), /reg\.yml: invalid configuration[\s\S]*at tasks\.0\.cron: got "61 \* \* \* \*"; not a valid cron/);
  assert.match(problems(() => parseTaskRegistry({ tasks: [{ id: "a", cron: "* * *", tool: "x", action: "y" }] })), /cron needs 5 fields/);
  assert.match(problems(() => parseTaskRegistry({ tasks: [{ id: "a", cron: "0 * * * *", tool: "x", action: "y" }, { id: "a", cron: "0 * * * *", tool: "x", action: "y" }] })), /at tasks\.1\.id: got "a"; task ids must be unique/);
  assert.match(problems(() => parseTaskRegistry({ tasks: [{ id: "a", cron: "0 * * * *", tool: "x", action: "y", crn: 1 }] })), /at tasks\.0: .*crn/);
  assert.match(problems(() => parseTaskRegistry({ tasks: [{ id: "a", cron: "0 * * * *", tool: "x", action: "y", requires: [{ task: "b" }] }] })), /at tasks\.0\.requires\.0\.task: got "b"; allowed: a/);
  assert.match(problems(() => parseTaskRegistry({ tasks: [{ id: "a", cron: "0 * * * *", tool: "x", action: "y", catchup_window_minutes: 9999 }] })), /catchup_window_minutes/);
  assert.match(problems(() => loadTaskRegistry("/nonexistent/tasks.yml")), /file not found/);
});

test("a task naming an unknown tool or action is refused when checked against the tools", () => {
  const tasks = parseTaskRegistry({ tasks: [{ id: "a", cron: "0 * * * *", tool: "risk_history_tool", action: "snapshot" }, { id: "b", cron: "0 * * * *", tool: "audit_tool", action: "purge" }] });
  const tools = new Map([["audit_tool", { actions: { cleanup: {}, query: {} } }]]);
  const msg = problems(() => checkTasksAgainstTools(tasks, tools, "ops/task_registry.yml"));
  assert.match(msg, /task a: unknown tool "risk_history_tool"; known tools: audit_tool/);
  assert.match(msg, /task b: unknown action audit_tool\.purge; actions: cleanup, query/);
  checkTasksAgainstTools(parseTaskRegistry({ tasks: [{ id: "c", cron: "0 * * * *", tool: "audit_tool", action: "cleanup" }] }), tools);
});

test("crontab: one line per enabled task; disabled commented out; second-level crons explained", () => {
  const tasks = parseTaskRegistry({ tasks: [
    { id: "a", cron: "20 6 * * 1", tool: "x", action: "y", description: "weekly" },
    { id: "b", cron: "0 3 * * *", tool: "x", action: "y", enabled: false },
    { id: "c", cron: "*/5 * * * * *", tool: "x", action: "y" },
  ] });
  const text = renderCrontab(tasks, { cwd: "/srv/opsbus app", command: "opsbus", source: "ops/task_registry.yml" });
  assert.ok(text.includes("CRON_TZ=UTC"));
  assert.ok(text.includes("20 6 * * 1 cd '/srv/opsbus app' && opsbus crontab trigger a\n"));
  assert.ok(text.includes("# disabled: 0 3 * * * cd '/srv/opsbus app' && opsbus crontab trigger b\n"));
  assert.match(text, /# c: skipped, cron .* has seconds/);
});

test("slots: latest slot within the catch-up window; ISO-week, day and hour periods in UTC", () => {
  const hourly = cronOf("0 * * * *");
  const now = new Date("2026-03-04T10:25:00Z");
  assert.equal(latestSlotWithin(hourly, now, 90 * 60_000)?.toISOString(), "2026-03-04T10:00:00.000Z");
  assert.is(latestSlotWithin(hourly, now, 20 * 60_000), null);
  assert.is(latestSlotWithin(hourly, now, 0), null);
  assert.equal(latestSlotWithin(hourly, new Date("2026-03-04T10:00:00Z"), 60_000)?.toISOString(), "2026-03-04T10:00:00.000Z");
  const wed = new Date("2026-03-04T06:20:00Z");
  assert.equal(Object.values(periodOf(wed, "iso_week")).map((d) => d.toISOString()), ["2026-03-02T00:00:00.000Z", "2026-03-09T00:00:00.000Z"]);
  const sunday = new Date("2026-03-08T23:59:00Z");
  assert.is(periodOf(sunday, "iso_week").start.toISOString(), "2026-03-02T00:00:00.000Z");
  assert.is(periodOf(wed, "utc_day").start.toISOString(), "2026-03-04T00:00:00.000Z");
  assert.is(periodOf(wed, "utc_hour").end.toISOString(), "2026-03-04T07:00:00.000Z");
});

test("a trigger that is not a trigger is refused with its reasons, never thrown", async () => {
  const runner = new JobRunner({ runs: { d: {} }, gateway: {}, nodeId: "n", holder: "h" } as unknown as RunnerDeps);
  const log = captureLogger().logger;
  for (const bad of [undefined, "text", { trigger: "schedule", task_id: "a", slot: "yesterday" }, { trigger: "later", task_id: "a" }]) {
    const out = await runner.handle(bad, log);
    assert.is(out.settle, "term");
    assert.match(out.reason ?? "", /not a job trigger/);
  }
});

test.run();
