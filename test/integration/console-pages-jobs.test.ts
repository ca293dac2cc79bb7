/**
 * The console's Jobs page and Backlog board on a real gateway and nats-server: what each role is
 * shown (Run now, Cancel and move buttons only with the write entitlement; a forged POST is 403),
 * the registry and the ledger as the tools answer them, a run started and canceled through the
 * console's tool channel, backlog moves along allowed transitions (a disallowed one refused with
 * conflict naming the allowed ones), the env filter, escaped item text, and 404 with the console off.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { holdGateway } from "../../src/app/gateway.js";
import { loadTaskRegistry } from "../../src/config/jobs-policy.js";
import { buildHttpApp } from "../../src/http/server.js";
import { freePort } from "../harness/ports.js";
import { consoleLogin, consolePage, consoleTool, type ConsoleSession } from "../harness/console.js";
import { startStack, type Stack } from "../harness/stack.js";

let s: Stack;
let base: string;

test.before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // No job runner: a run started here stays queued, so Cancel is there to press.
  s = await startStack({ env: { HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" } });
});
test.after(async () => s?.stop());

type Session = ConsoleSession;
const login = (agent: string) => consoleLogin(base, agent);

async function pageOf(se: Session, path: string): Promise<string> {
  const { status, html } = await consolePage(base, se, path);
  assert.is(status, 200, path);
  return html;
}

/** A tool call the way the page's script sends it (CSRF header, same origin). */
async function tool(se: Session, name: string, action: string, params: Record<string, unknown>, o: { csrf?: boolean } = {}) {
  const res = await consoleTool(base, se, name, action, params, o);
  return { status: res.status, body: (await res.json()) as { ok: boolean; result?: Record<string, unknown>; error?: { code: string; message: string } } };
}

const forms = (page: string, name: string, action: string) => page.split(`data-tool="${name}" data-action="${action}"`).length - 1;
/** The markup of the run's table row. */
const runRow = (page: string, id: string) => page.match(new RegExp(`<tr data-run="${id}"[^]*?</tr>`))?.[0] ?? "";
/** The markup of one board column. */
const column = (page: string, status: string) => page.match(new RegExp(`<section class="column" data-status="${status}"[^]*?</section>`))?.[0] ?? "";

async function seedItem(title: string, env = "prod"): Promise<string> {
  const r = await s.call<{ item: { id: string } }>("backlog_tool", "upsert", { env, service: "checkout", category: "incidents", title }, { agent: "sofiia" });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.result.item.id;
}

test("Jobs: every registry task with its schedule and state, Run now per enabled task, the empty ledger says what to do; nav names both pages", async () => {
  const cto = await login("sofiia");
  const page = await pageOf(cto, "/console/jobs");
  const tasks = [...loadTaskRegistry("ops/task_registry.yml").values()];
  for (const t of tasks) assert.ok(page.includes(`<tr data-task="${t.id}">`), t.id);
  assert.ok(page.includes("<code>30 3 * * *</code>"), "audit_cleanup's cron");
  assert.ok(page.includes("never run"));
  assert.is(forms(page, "jobs_tool", "start_task"), tasks.filter((t) => t.enabled).length);
  assert.match(page, /No runs yet\. The scheduler \(<code>opsbus worker scheduler<\/code>\)/);
  assert.match(page, /data-live="job\."/);
  assert.match(page, /<a href="\/console\/jobs" aria-current="page">Jobs<\/a>/);
  assert.match(page, /<a href="\/console\/backlog">Backlog<\/a>/);
  const board = await pageOf(cto, "/console/backlog");
  assert.match(board, /The backlog is empty\. Items come from the weekly generation/);
  assert.match(board, /data-live="backlog\."/);
});

test("Jobs: Run now through the console's tool channel records a queued run by the session's agent; Cancel cancels it and goes away", async () => {
  const cto = await login("sofiia");
  const started = await tool(cto, "jobs_tool", "start_task", { task_id: "audit_cleanup" });
  assert.is(started.status, 200, JSON.stringify(started.body));
  const runId = (started.body.result!.run as { id: string }).id;
  let row = runRow(await pageOf(cto, "/console/jobs"), runId);
  assert.match(row, /data-status="queued"/);
  assert.match(row, /manual · sofiia/);
  assert.is(forms(row, "jobs_tool", "cancel"), 1, "a queued run can be canceled");
  const page = await pageOf(cto, "/console/jobs");
  assert.match(page.match(/<tr data-task="audit_cleanup">[^]*?<\/tr>/)?.[0] ?? "", /state-queued/, "the task's latest run");

  const canceled = await tool(cto, "jobs_tool", "cancel", { run_id: runId });
  assert.is(canceled.status, 200, JSON.stringify(canceled.body));
  row = runRow(await pageOf(cto, "/console/jobs?task=audit_cleanup&status=canceled"), runId);
  assert.match(row, /data-status="canceled"/);
  assert.is(forms(row, "jobs_tool", "cancel"), 0, "nothing to cancel any more");
  assert.match(await pageOf(cto, "/console/jobs?task=audit_cleanup&status=running"), /No runs match these filters/);
});

test("roles: monitor sees neither page's data nor a control and its forged POSTs are 403; on-call reads jobs without Run now/Cancel; interface reads the board without moves", async () => {
  const cto = await login("sofiia");
  const queued = await tool(cto, "jobs_tool", "start_task", { task_id: "alert_retention" });
  const runId = (queued.body.result!.run as { id: string }).id;
  const itemId = await seedItem("Monitor must not move this");

  const monitor = await login("monitor");
  const jobs = await pageOf(monitor, "/console/jobs");
  const board = await pageOf(monitor, "/console/backlog");
  assert.match(jobs, /does not read jobs/);
  assert.match(board, /does not read the backlog/);
  for (const page of [jobs, board]) {
    assert.not.match(page, /data-tool=/);
    assert.not.match(page, /Run now|Cancel<\/button>|→ /);
  }
  // Forged: without the CSRF token, and with it (the role lacks the entitlement): both 403.
  for (const csrf of [false, true]) {
    assert.is((await tool(monitor, "jobs_tool", "start_task", { task_id: "audit_cleanup" }, { csrf })).status, 403);
    assert.is((await tool(monitor, "jobs_tool", "cancel", { run_id: runId }, { csrf })).status, 403);
    assert.is((await tool(monitor, "backlog_tool", "set_status", { id: itemId, status: "in_progress" }, { csrf })).status, 403);
  }
  const forbidden = await tool(monitor, "backlog_tool", "set_status", { id: itemId, status: "in_progress" });
  assert.match(forbidden.body.error!.message, /lacks entitlement tools\.backlog\.write/);
  assert.is((await s.running.ctx.stores.backlog.get(itemId))?.status, "open");
  assert.is((await s.running.ctx.stores.jobs.get(runId))?.status, "queued");

  const oncall = await pageOf(await login("helion"), "/console/jobs");
  assert.ok(runRow(oncall, runId).includes('data-status="queued"'), "helion reads the ledger");
  assert.is(forms(oncall, "jobs_tool", "start_task") + forms(oncall, "jobs_tool", "cancel"), 0, "no tools.jobs.run: no Run now, no Cancel");

  const readOnly = await pageOf(await login("aistalk"), "/console/backlog");
  assert.ok(column(readOnly, "open").includes(`data-id="${itemId}"`), "aistalk reads the board");
  assert.is(forms(readOnly, "backlog_tool", "set_status"), 0, "no tools.backlog.write: no moves");
});

test("Backlog: an item offers exactly the workflow's moves; on-call moves it along one, a disallowed move is refused with conflict naming the allowed ones", async () => {
  const moved = await seedItem("Reduce checkout p95");
  const stays = await seedItem("Tidy the checkout runbook");
  const helion = await login("helion");
  let board = await pageOf(helion, "/console/backlog");
  const card = column(board, "open").match(new RegExp(`<li class="card item" data-id="${stays}"[^]*?</li>`))?.[0] ?? "";
  assert.equal([...card.matchAll(/data-to="([a-z_]+)"/g)].map((m) => m[1]), ["in_progress", "blocked", "canceled"], "open's transitions in backlog_policy.yml");

  const ok = await tool(helion, "backlog_tool", "set_status", { id: moved, status: "in_progress" });
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  board = await pageOf(helion, "/console/backlog");
  assert.ok(column(board, "in_progress").includes(`data-id="${moved}"`), "moved to the in progress column");
  assert.not.ok(column(board, "open").includes(`data-id="${moved}"`));

  const refused = await tool(helion, "backlog_tool", "set_status", { id: stays, status: "done" });
  assert.is(refused.status, 409);
  assert.is(refused.body.error!.code, "conflict");
  assert.is(refused.body.error!.message, `backlog item ${stays}: open → done is not allowed; from open: in_progress, blocked, canceled`);
  assert.is((await s.running.ctx.stores.backlog.get(stays))?.status, "open");
});

test("Backlog: the env filter, item text escaped, empty states that say what to do", async () => {
  const hostile = `<img src=x onerror=alert(1)> "quoted"`;
  const staging = await seedItem(hostile, "staging");
  const helion = await login("helion");
  const page = await pageOf(helion, "/console/backlog?env=staging");
  assert.ok(column(page, "open").includes(`data-id="${staging}"`));
  assert.not.match(page, /Reduce checkout p95/, "prod items filtered out");
  assert.ok(page.includes("&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot;"), "escaped");
  assert.not.ok(page.includes("<img src=x"));
  assert.match(page, /<option value="staging" selected>/);
  assert.match(await pageOf(helion, "/console/backlog?env=dev"), /No backlog items match these filters/);
});

test("the console off: /console/jobs and /console/backlog answer 404", async () => {
  const held = holdGateway(s.running.ctx, "test");
  try {
    const edge = buildHttpApp({ gateway: held.gateway, logger: s.logs.logger, health: async () => ({ ok: true }), status: async () => ({}) });
    for (const url of ["/console/jobs", "/console/backlog"]) assert.is((await edge.app.inject({ method: "GET", url })).statusCode, 404, url);
    await edge.app.close();
  } finally {
    await held.release();
  }
});

test.run();
