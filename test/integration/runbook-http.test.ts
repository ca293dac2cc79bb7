/**
 * The reference runbooks' HTTP calls, run with real curl against the gateway's HTTP listener (OPS_ENV
 * prod: keys required; Postgres stores, a suite-owned nats-server). Each runbook line is kept as the
 * runbook prints it, with only the host and placeholders (inc_..., <run_id>) filled in; a line
 * without a key gets the X-API-Key header a prod user adds. Then RBAC on the shortcuts (403,
 * audited), the X-API-Key rules, and /openapi.json against the running registry.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { STORE_ENV_PREFIX } from "../../src/config/env.js";
import { formatIsoWeek, isoWeekOf } from "../../src/util/iso-week.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const run = promisify(execFile);
const KEY = "k-sofiia";
const db = await createTestDatabase();
const reportsDir = mkdtempSync(join(tmpdir(), "opsbus-runbook-http-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const postgres = Object.fromEntries(Object.values(STORE_ENV_PREFIX).map((p) => [`${p}_BACKEND`, "postgres"]));
const s: Stack = await startStack({
  roles: ["gateway"],
  env: {
    OPS_ENV: "prod",
    ...postgres,
    DATABASE_URL: db.url,
    REPORTS_DIR: reportsDir,
    HTTP_PORT: String(port),
    OPSBUS_API_KEYS: "sofiia=k-sofiia,helion=k-helion,monitor=k-monitor",
  },
});
test.after(async () => {
  await s.stop();
  await db.drop();
  rmSync(reportsDir, { recursive: true, force: true });
});

interface Answer<T = unknown> {
  status: number;
  reply: ToolReply<T>;
}

/**
 * A runbook line through bash and real curl: its host becomes this gateway; `GET /path` lines become
 * `curl <url>`; a line without a key gets `-H "X-API-Key: $GATEWAY_API_KEY"`.
 */
async function curl<T = unknown>(line: string, key = KEY): Promise<Answer<T>> {
  let cmd = line.trim().replace(/https?:\/\/(router:8000|router|gateway|supervisor:8000)/g, base);
  if (/^GET \//.test(cmd)) cmd = `curl "${base}${cmd.slice(4)}"`;
  if (!/X-API-Key|Authorization/i.test(cmd)) cmd = cmd.replace(/^curl /, `curl -H "X-API-Key: $GATEWAY_API_KEY" `);
  const { stdout } = await run("bash", ["-c", `${cmd} -s -w '\\n%{http_code}'`], { env: { ...process.env, GATEWAY_API_KEY: key } });
  const nl = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(nl + 1)), reply: JSON.parse(stdout.slice(0, nl)) as ToolReply<T> };
}

function ok<T>(a: Answer<T>): T {
  assert.is(a.status, 200, JSON.stringify(a.reply).slice(0, 600));
  assert.ok(a.reply.ok);
  return (a.reply as { ok: true; result: T }).result;
}

async function http(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: res.status, reply: (await res.json()) as ToolReply };
}

const audited = (pred: (r: { request_id?: string }) => boolean, what: string) =>
  waitFor(async () => (await s.running.ctx.stores.audit.query({ limit: 10_000 })).find(pred), { message: what });

let incidentId = "";
let runId = "";

test("runbook-alerts: flat params on /v1/tools/execute (a curl without Content-Type too), dashboard, open incidents", async () => {
  // As printed, the runbook's alert has no title and an unknown kind: refused with reasons (422), not 404 or 415.
  const literal = await curl<{ accepted: boolean; reasons: string[] }>(`curl -X POST http://router:8000/v1/tools/execute \\
  -H "Content-Type: application/json" \\
  -d '{"tool":"alert_ingest_tool","action":"ingest","service":"test","kind":"test","message":"persistence check"}'`);
  assert.is(literal.status, 422, JSON.stringify(literal.reply));
  assert.ok(literal.reply.ok && literal.reply.result.accepted === false && literal.reply.result.reasons.length >= 1);
  const stored = ok(await curl<{ accepted: boolean }>(`curl -X POST http://router:8000/v1/tools/execute \\
  -H "Content-Type: application/json" \\
  -d '{"tool":"alert_ingest_tool","action":"ingest","service":"test","kind":"custom","title":"persistence check","message":"persistence check"}'`));
  assert.is(stored.accepted, true);
  const listed = ok(await curl<{ count: number; alerts: Array<{ service: string }> }>(`curl "http://router:8000/v1/tools/execute" \\
  -d '{"tool":"alert_ingest_tool","action":"list","service":"test"}'`));
  assert.equal([listed.count, listed.alerts[0]?.service], [1, "test"]);

  const dash = ok(await curl<Record<string, unknown>>("GET /v1/alerts/dashboard?window_minutes=240"));
  assert.ok(JSON.stringify(dash).includes("persistence check"), JSON.stringify(dash).slice(0, 400));

  const created = ok(await curl<{ incident_id?: string; id?: string; incident?: { id: string } }>(`curl -X POST http://gateway/v1/tools/oncall_tool -d '{"action":"incident_create","service":"gateway","severity":"P1","title":"5xx on gateway"}'`));
  incidentId = created.incident_id ?? created.incident?.id ?? created.id ?? "";
  assert.match(incidentId, /^inc_/);
  const other = ok(await curl<{ incident_id?: string; incident?: { id: string } }>(`curl -X POST http://gateway/v1/tools/oncall_tool -d '{"action":"incident_create","service":"db","severity":"P2","title":"slow queries"}'`));
  assert.ok(other);
  const open = ok(await curl<{ count: number; incidents: Array<{ id: string; service: string; status: string }> }>("GET /v1/incidents/open?service=gateway"));
  assert.equal(open.incidents.map((i) => [i.id, i.service, i.status]), [[incidentId, "gateway", "open"]]);
});

test("runbook-backlog: weekly generation by POST with ?env=, then the dashboard", async () => {
  const week = formatIsoWeek(isoWeekOf(new Date()));
  mkdirSync(join(reportsDir, "platform"), { recursive: true });
  const services = [{ service: "gateway", score: 82, band: "critical", requires_arch_review: true, factors: { incidents: 40, followups_overdue: 3 } }];
  writeFileSync(join(reportsDir, "platform", `${week}.json`), JSON.stringify({ week, env: "prod", services }));
  const gen = ok(await curl<{ created: number; week: string }>(`curl -X POST "https://router/v1/backlog/generate/weekly?env=prod"`));
  assert.ok(gen.created >= 1, JSON.stringify(gen));
  const dash = ok(await curl<{ total: number; status_counts: Record<string, number> }>("GET /v1/backlog/dashboard?env=prod"));
  assert.is(dash.total, gen.created);
  assert.is(dash.status_counts.open, gen.created);
});

test("runbook-incidents: graph run and its status, /v1/tools/<tool> with flat params, jobs, incident intelligence", async () => {
  const queued = ok(await curl<{ run_id: string; status: string; graph: string }>(`curl -X POST http://supervisor:8000/v1/graphs/postmortem_draft/runs \\
  -H "Content-Type: application/json" \\
  -d '{"agent_id":"sofiia","input":{"incident_id":"${incidentId}"}}'`));
  assert.equal([queued.status, queued.graph], ["queued", "postmortem_draft"]);
  runId = queued.run_id;
  const status = ok(await curl<{ id: string; status: string; incident_id: string }>(`GET /v1/runs/${runId}`));
  assert.equal([status.id, status.incident_id], [runId, incidentId]);

  const followups = ok(await curl<Record<string, unknown>>(`curl -X POST http://gateway/v1/tools/oncall_tool -d '{
  "action": "incident_followups_summary",
  "service": "gateway",
  "env": "prod",
  "window_days": 30
}'`));
  assert.ok(followups);
  const job = ok(await curl<{ run: { task_id: string; status: string } }>(`curl -X POST http://gateway/v1/tools/jobs \\
  -H "X-API-Key: $GATEWAY_API_KEY" \\
  -d '{"action":"start_task","params":{"task_id":"weekly_incident_digest","inputs":{}}}'`));
  assert.equal([job.run.task_id, job.run.status], ["weekly_incident_digest", "queued"]);
  const digest = ok(await curl<{ week: string }>(`curl -X POST http://gateway/v1/tools/incident_intelligence_tool \\
  -H "X-API-Key: $GATEWAY_API_KEY" \\
  -d '{"action":"weekly_digest","save_artifacts":true}'`));
  assert.match(digest.week, /^\d{4}-W?\d{2}$/);
  const correlated = ok(await curl<Record<string, unknown>>(`curl -X POST http://gateway/v1/tools/incident_intelligence_tool \\
  -H "X-API-Key: $GATEWAY_API_KEY" \\
  -d '{"action":"correlate","incident_id":"${incidentId}","append_note":true}'`));
  assert.ok(JSON.stringify(correlated).includes(incidentId));
  ok(await curl(`curl -X POST http://gateway/v1/tools/incident_intelligence_tool \\
  -H "X-API-Key: $GATEWAY_API_KEY" \\
  -d '{"action":"recurrence","window_days":7}'`));
});

test("RBAC: a role without the entitlement gets 403 on every shortcut and on /v1/tools/<tool>, audited as an http deny", async () => {
  const calls: Array<[string, string, string, string, string?]> = [
    ["GET", "/v1/backlog/dashboard?env=prod", "backlog_tool", "dashboard"],
    ["POST", "/v1/backlog/generate/weekly?env=prod", "backlog_tool", "auto_generate_weekly"],
    ["POST", "/v1/graphs/incident_triage/runs", "graphs_tool", "run", JSON.stringify({ input: { incident_id: incidentId } })],
    ["GET", `/v1/runs/${runId}`, "graphs_tool", "get_run"],
    ["POST", "/v1/tools/jobs", "jobs_tool", "list_runs", JSON.stringify({ action: "list_runs" })],
  ];
  for (const [i, [method, path, tool, action, body]] of calls.entries()) {
    const requestId = `rbac-${i}`;
    const headers = { "x-api-key": "k-monitor", "x-request-id": requestId, ...(body ? { "content-type": "application/json" } : {}) };
    const r = await http(method, path, headers, body);
    assert.is(r.status, 403, `${method} ${path}: ${JSON.stringify(r.reply)}`);
    assert.ok(!r.reply.ok && r.reply.error.code === "forbidden");
    const rec = await audited((a) => a.request_id === requestId, requestId);
    assert.equal([rec.channel, rec.agent_id, rec.tool, rec.action, rec.decision, rec.status], ["http", "monitor", tool, action, "deny", "forbidden"]);
  }
  // The on-call role reads the backlog but may not generate it.
  assert.is((await http("GET", "/v1/backlog/dashboard?env=prod", { "x-api-key": "k-helion" })).status, 200);
  assert.is((await http("POST", "/v1/backlog/generate/weekly?env=prod", { "x-api-key": "k-helion" })).status, 403);
  // Without a key, prod refuses before RBAC.
  assert.is((await http("GET", "/v1/alerts/dashboard", {})).status, 401);
});

test("X-API-Key: alone or with the same bearer key is the caller; with a different one 400 (audited); unknown 401", async () => {
  const path = "/v1/alerts/dashboard?window_minutes=60";
  assert.is((await http("GET", path, { "x-api-key": KEY })).status, 200);
  assert.is((await http("GET", path, { "x-api-key": KEY, authorization: `Bearer ${KEY}` })).status, 200);
  const both = await http("GET", path, { "x-api-key": "k-helion", authorization: `Bearer ${KEY}`, "x-request-id": "two-keys" });
  assert.is(both.status, 400, JSON.stringify(both.reply));
  const rec = await audited((a) => a.request_id === "two-keys", "two-keys");
  assert.equal([rec.channel, rec.decision, rec.status], ["http", "deny", "invalid_request"]);
  assert.is((await http("GET", path, { "x-api-key": "k-nobody" })).status, 401);
  // A query param the action does not take is refused by its schema, not ignored.
  assert.is((await http("GET", "/v1/alerts/dashboard?window_minute=60", { "x-api-key": KEY })).status, 400);
  // A form post from a browser page is still refused; flat and nested naming one param differently is ambiguous.
  const form = await http("POST", "/v1/tools/monitor", { "x-api-key": KEY, "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" }, `{"action":"status"}`);
  assert.is(form.status, 415);
  const fetched = await http("POST", "/v1/tools/execute", { "x-api-key": KEY, "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" }, `{"tool":"monitor_tool","action":"status"}`);
  assert.is(fetched.status, 415);
  const ambiguous = await http("POST", "/v1/tools/alert_ingest_tool", { "x-api-key": KEY, "content-type": "application/json" }, JSON.stringify({ action: "list", service: "a", params: { service: "b" } }));
  assert.is(ambiguous.status, 400);
});

test("/openapi.json names only tools and actions this gateway serves, each action's params from its schema", async () => {
  const res = await fetch(`${base}/openapi.json`);
  assert.is(res.status, 200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, { "x-opsbus-tool"?: string; "x-opsbus-action"?: string }>>; components: { schemas: Record<string, unknown> } };
  const ops = Object.values(doc.paths).flatMap((item) => Object.values(item)).filter((op) => op["x-opsbus-tool"]);
  assert.ok(ops.length >= 6);
  for (const op of ops) assert.ok(doc.components.schemas[`${op["x-opsbus-tool"]}.${op["x-opsbus-action"]}.params`], `${op["x-opsbus-tool"]}.${op["x-opsbus-action"]}`);
  for (const name of ["alert_ingest_tool.dashboard", "graphs_tool.run", "jobs_tool.start_task", "backlog_tool.auto_generate_weekly"]) assert.ok(doc.components.schemas[`${name}.params`], name);
});

test.run();
