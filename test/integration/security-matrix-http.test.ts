/**
 * The security matrix of the gateway's HTTP listener, in prod where keys are mandatory: every
 * route /openapi.json marks as secured (the Alertmanager API, the runbook shortcuts, the tool API)
 * × every role, an unmapped agent, no key, an unknown key and two Authorization headers. Allowed
 * callers get the route's success status, the others 401/403 (400 for two keys) in the route's
 * error shape, and every request leaves exactly one audit record (channel http, allow or deny).
 * PagerDuty's credential is its routing key: only the configured one is taken, whatever
 * Authorization says. Routes /openapi.json leaves open answer every caller alike.
 */
import { request as httpRequest } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildToolRegistry } from "../../src/app/tools.js";
import type { AuditRecord } from "../../src/audit/store.js";
import { loadPolicies } from "../../src/config/load.js";
import { AM_AUDIT_TOOL } from "../../src/http/alertmanager/access.js";
import { openApiDocument, openApiPath } from "../../src/http/openapi.js";
import { AUDIT_TOOL as PD_AUDIT_TOOL } from "../../src/http/pagerduty.js";
import { RUNBOOK_ROUTES } from "../../src/http/runbook-routes.js";
import { incidentPaths } from "../../src/incidents/paths.js";
import type { ToolRegistry } from "../../src/tools/types.js";
import { formatIsoWeek, isoWeekOf } from "../../src/util/iso-week.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const rbac = loadPolicies("config").rbac;
const ROLES = Object.keys(rbac.roles);
const probeOf = (role: string) => `probe_${role}`;
const STRANGER = "probe_stranger";
const keyOf = (agent: string) => `sk-http-${agent}-Wm4Rz8`;
const UNKNOWN_KEY = "sk-http-nobody-Tq7Ys2";
const PD_KEY = "pdkey0matrix0000000000000000000a";
const unlimited = { rate_per_minute: 10_000_000, burst: 1_000_000 };

type Headers = Record<string, string | string[]>;
interface Caller { label: string; headers: Headers; agent?: string; role?: string; refusal?: { status: number; code: string } }
const bearer = (agent: string) => ({ authorization: `Bearer ${keyOf(agent)}` });
const CALLERS: Caller[] = [
  ...ROLES.map((role) => ({ label: role, headers: bearer(probeOf(role)), agent: probeOf(role), role })),
  { label: "unmapped agent", headers: bearer(STRANGER), agent: STRANGER, role: rbac.default_role },
  { label: "no key", headers: {}, refusal: { status: 401, code: "unauthenticated" } },
  { label: "unknown key", headers: { authorization: `Bearer ${UNKNOWN_KEY}` }, refusal: { status: 401, code: "unauthenticated" } },
  // A weak key first, a strong one second: neither may count.
  { label: "two Authorization headers", headers: { authorization: [`Bearer ${keyOf(probeOf("agent_interface"))}`, `Bearer ${keyOf(probeOf("agent_cto"))}`] }, refusal: { status: 400, code: "invalid_request" } },
];

/** A secured route as the matrix calls it; `am`: answers as Alertmanager (JSON string errors). */
interface Route { method: "GET" | "POST" | "DELETE"; path: string; body?: unknown; entitlement: string; success: number | "allowed"; am: boolean; tool: string; action: string; /** The path as /openapi.json names it, when it has a parameter. */ doc?: string }

let s: Stack;
let base: string;
let port: number;
let registry: ToolRegistry;
let seq = 0;
/** request id → what was asked and what the audit record must say. */
const expectedAudit = new Map<string, { what: string; tool: string; action: string; decision: "allow" | "deny"; agent?: string }>();

interface Answer { status: number; text: string }
/** Every header line as given (an array is one line per value, which fetch would fold into one). */
function send(method: string, path: string, headers: Headers, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h: Headers = { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) };
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test.before(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Routing keys are read from the environment when the listener starts (config/intake.yml: ${PD_KEY_CHECKOUT}).
  process.env.PD_KEY_CHECKOUT = PD_KEY;
  const agents = Object.fromEntries(ROLES.map((r) => [probeOf(r), r]));
  const keys = [...ROLES.map(probeOf), STRANGER].map((a) => `${a}=${keyOf(a)}`).join(",");
  s = await startStack({
    env: { OPS_ENV: "prod", OPSBUS_API_KEYS: keys, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" },
    policies: { rbac: { agents }, toolLimits: { defaults: unlimited } },
  });
  registry = buildToolRegistry(s.running.ctx, { logger: s.logs.logger });
});
test.after(async () => s?.stop());

const entitlementOf = (tool: string, action: string) => registry.get(tool)!.actions[action]!.entitlement;
const errorOf = (route: Pick<Route, "am">, a: Answer): { code?: string; message: string } => {
  const body = JSON.parse(a.text) as unknown;
  if (route.am) return { message: body as string };
  const e = (body as { ok?: boolean; error?: { code: string; message: string } }).error;
  return { code: e?.code, message: e?.message as string };
};

/** One route × one caller: the status and error shape, and the audit record it must leave. */
async function check(route: Route, c: Caller): Promise<"allowed" | "denied"> {
  const requestId = `mx-${++seq}`;
  const what = `${c.label} → ${route.method} ${route.path} [${route.entitlement}]`;
  const a = await send(route.method, route.path, { ...c.headers, "x-request-id": requestId }, route.body === undefined ? undefined : JSON.stringify(route.body));
  const allowed = c.role !== undefined && rbac.roles[c.role]!.entitlements.includes(route.entitlement);
  expectedAudit.set(requestId, { what, tool: route.tool, action: route.action, decision: allowed ? "allow" : "deny", ...(c.agent ? { agent: c.agent } : {}) });
  if (allowed) {
    if (route.success === "allowed") assert.not.ok([401, 403].includes(a.status), `${what}: ${a.status} ${a.text.slice(0, 300)}`);
    else assert.is(a.status, route.success, `${what}: ${a.text.slice(0, 300)}`);
    return "allowed";
  }
  const expected = c.refusal ?? { status: 403, code: "forbidden" };
  assert.is(a.status, expected.status, `${what}: ${a.text.slice(0, 300)}`);
  const e = errorOf(route, a);
  assert.type(e.message, "string", `${what}: error shape ${a.text.slice(0, 200)}`);
  if (!route.am) assert.is(e.code, expected.code, what);
  return "denied";
}

let incidentId = "";
let runId = "";
let silenceId = "";

/** Every runbook shortcut, filled in: a new one without an entry here fails the coverage test. */
function runbookRoutes(): Route[] {
  const fill: Record<string, { path: string; body?: unknown }> = {
    "/v1/alerts/dashboard": { path: "/v1/alerts/dashboard?window_minutes=60" },
    "/v1/incidents/open": { path: "/v1/incidents/open" },
    "/v1/backlog/dashboard": { path: "/v1/backlog/dashboard?env=prod" },
    "/v1/backlog/generate/weekly": { path: "/v1/backlog/generate/weekly?env=prod&dry_run=true" },
    "/v1/graphs/:graph/runs": { path: "/v1/graphs/incident_triage/runs", body: { input: { incident_id: incidentId } } },
    "/v1/runs/:run_id": { path: `/v1/runs/${runId}` },
  };
  return RUNBOOK_ROUTES.map((r) => {
    assert.ok(fill[r.url], `the matrix fills in ${r.method} ${r.url}`);
    return { method: r.method, ...fill[r.url]!, entitlement: entitlementOf(r.tool, r.action), success: 200, am: false, tool: r.tool, action: r.action };
  });
}

const AM_ROUTES: Route[] = [
  { method: "POST", path: "/api/v2/alerts", entitlement: "tools.alerts.ingest", success: 200, am: true, tool: AM_AUDIT_TOOL, action: "post_alerts", body: [{ labels: { alertname: "MatrixProbe", service: "matrix" } }] },
  { method: "GET", path: "/api/v2/alerts", entitlement: "tools.alerts.read", success: 200, am: true, tool: AM_AUDIT_TOOL, action: "get_alerts" },
  { method: "GET", path: "/api/v2/alerts/groups", entitlement: "tools.alerts.read", success: 200, am: true, tool: AM_AUDIT_TOOL, action: "get_alert_groups" },
];
/** Alertmanager's silence routes: each a silence_tool call, audited under that tool. */
function silenceRoutes(): Route[] {
  const silence = { matchers: [{ name: "alertname", value: "MatrixProbe", isRegex: false }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: "matrix", comment: "matrix" };
  const byId = "/api/v2/silence/{silenceID}";
  return [
    { method: "POST", path: "/api/v2/silences", body: silence, entitlement: "tools.silences.write", success: 200, am: true, tool: "silence_tool", action: "create" },
    { method: "GET", path: "/api/v2/silences", entitlement: "tools.silences.read", success: 200, am: true, tool: "silence_tool", action: "list" },
    { method: "GET", path: `/api/v2/silence/${silenceId}`, doc: byId, entitlement: "tools.silences.read", success: 200, am: true, tool: "silence_tool", action: "get" },
    // Expiring is idempotent: every allowed caller gets 200.
    { method: "DELETE", path: `/api/v2/silence/${silenceId}`, doc: byId, entitlement: "tools.silences.write", success: 200, am: true, tool: "silence_tool", action: "expire" },
  ];
}
/** Open by design: probes, this document, and what Alertmanager itself serves without auth. */
const PUBLIC = ["GET /healthz", "GET /metrics", "GET /monitor/status", "GET /openapi.json", "GET /api/v2/status", "GET /api/v2/receivers", "GET /-/healthy", "GET /-/ready"];
const PAGERDUTY = ["POST /v2/enqueue", "POST /v2/enqueue/"];
/** Ack links: the signed token in the path is the credential (refusals: test/integration/ack-link.test.ts). */
const ACK_LINK = ["GET /ack/{token}", "POST /ack/{token}"];
const TOOL_ROUTES = ["POST /v1/tools/execute", "POST /v1/tools/{tool}"];
/** Console login takes the key in its body; CSP reports come from any page (counted only). */
const CONSOLE_OPEN = ["POST /console/login", "POST /console/csp-report"];
/** Console pages anyone may fetch: the redirects to /console/, the login page, the script and stylesheet. */
const CONSOLE_OPEN_PAGES = ["GET /", "GET /console", "GET /console/login", "GET /console/static/{name}"];
/** Console pages behind the session (none: 303 to the login page); by role in test/integration/console-browser.test.ts. */
const CONSOLE_PAGES = ["GET /console/", "GET /console/alerts", "GET /console/incidents", "GET /console/incidents/{id}", "GET /console/silences", "GET /console/notifications", "GET /console/jobs", "GET /console/backlog", "GET /console/release", "GET /console/audit"];
/** Console routes behind a session cookie: every caller below logs in with its key first. */
const CONSOLE_ROUTES = ["GET /console/session", "GET /console/csp-report", "GET /console/events", "POST /console/logout", "POST /console/api/tools/{tool}/{action}"];

test("fixtures: an incident and a graph run to read, a platform digest to generate from", async () => {
  const cto = probeOf("agent_cto");
  const created = await s.call<{ incident_id?: string; incident?: { id: string } }>("oncall_tool", "incident_create", { service: "matrix", severity: "P2", title: "matrix" }, { agent: cto, key: keyOf(cto) });
  assert.ok(created.ok, JSON.stringify(created));
  incidentId = created.result.incident_id ?? created.result.incident?.id ?? "";
  assert.match(incidentId, /^inc_/);
  const run = await s.call<{ run_id: string }>("graphs_tool", "run", { graph: "incident_triage", incident_id: incidentId }, { agent: cto, key: keyOf(cto) });
  assert.ok(run.ok, JSON.stringify(run));
  runId = run.result.run_id;
  const week = formatIsoWeek(isoWeekOf(new Date()));
  const platform = join(incidentPaths(s.running.ctx.env).reportsDir, "platform");
  mkdirSync(platform, { recursive: true });
  writeFileSync(join(platform, `${week}.json`), JSON.stringify({ week, env: "prod", services: [{ service: "matrix", score: 82, band: "critical", requires_arch_review: true, factors: { incidents: 40 } }] }));
  const silence = await s.call<{ silence_id: string }>("silence_tool", "create", { matchers: ["alertname=MatrixFixture"], duration_minutes: 60, comment: "matrix" }, { agent: cto, key: keyOf(cto) });
  assert.ok(silence.ok, JSON.stringify(silence));
  silenceId = silence.result.silence_id;
});

test("every route /openapi.json describes is in this matrix: secured ones by role, open ones as open", () => {
  const doc = openApiDocument(registry) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
  runbookRoutes(); // every shortcut is filled in
  const covered = new Set([...[...AM_ROUTES, ...silenceRoutes()].map((r) => `${r.method} ${r.doc ?? r.path}`), ...RUNBOOK_ROUTES.map((r) => `${r.method} ${openApiPath(r.url)}`), ...TOOL_ROUTES, ...CONSOLE_ROUTES, ...CONSOLE_PAGES]);
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const key = `${method.toUpperCase()} ${path}`;
      const secured = (op.security ?? []).some((s) => Object.keys(s as object).length > 0);
      if (secured) assert.ok(covered.has(key), `${key} is secured: it needs a place in the matrix`);
      else assert.ok(PUBLIC.includes(key) || PAGERDUTY.includes(key) || ACK_LINK.includes(key) || CONSOLE_OPEN.includes(key) || CONSOLE_OPEN_PAGES.includes(key), `${key} is open: the matrix must say so`);
    }
  }
});

test("Alertmanager API and runbook shortcuts: every role and every kind of refusal", async () => {
  const tally = { allowed: 0, denied: 0 };
  for (const route of [...AM_ROUTES, ...silenceRoutes(), ...runbookRoutes()]) for (const c of CALLERS) tally[await check(route, c)]++;
  assert.ok(tally.allowed > 0 && tally.denied > 0, JSON.stringify(tally));
  console.log(`matrix: Alertmanager and shortcuts ${JSON.stringify(tally)}`);
});

test("POST /v1/tools/<tool> (and its short name) and /v1/tools/execute: every action × every caller", async () => {
  const tally = { allowed: 0, denied: 0 };
  const actions = [...registry.values()].flatMap((t) => Object.keys(t.actions).map((action) => ({ tool: t.name, action })));
  for (const [i, { tool, action }] of actions.entries()) {
    const short = tool.endsWith("_tool") && i % 2 === 1 ? tool.slice(0, -"_tool".length) : tool;
    const byPath: Route = { method: "POST", path: `/v1/tools/${short}`, body: { action }, entitlement: entitlementOf(tool, action), success: "allowed", am: false, tool, action };
    const byBody: Route = { ...byPath, path: "/v1/tools/execute", body: { tool, action } };
    for (const c of CALLERS) {
      tally[await check(byPath, c)]++;
      // The execute route: every role, the refusals on one action per tool (same code path).
      if (c.role !== undefined || i % 7 === 0) tally[await check(byBody, c)]++;
    }
  }
  assert.ok(tally.allowed > 0 && tally.denied > 0, JSON.stringify(tally));
  console.log(`matrix: tool API ${JSON.stringify(tally)}`);
});

test("open routes answer every caller alike, and never 401 or 403", async () => {
  for (const key of PUBLIC) {
    const [method, path] = key.split(" ") as [string, string];
    const statuses = new Set<number>();
    for (const c of CALLERS) statuses.add((await send(method, path, c.headers)).status);
    assert.is(statuses.size, 1, `${key}: ${[...statuses].join(", ")}`);
    assert.not.ok([401, 403].includes([...statuses][0]!), key);
  }
});

test("PagerDuty: the configured routing key is the credential (202 whatever Authorization says); others 400", async () => {
  const event = (routing_key: unknown, i: number) => ({ routing_key, event_action: "trigger", dedup_key: `matrix-${i}`, payload: { summary: "matrix", source: "matrix", severity: "error" } });
  const cases: Array<[string, unknown, Headers, number]> = [
    ...CALLERS.map((c): [string, unknown, Headers, number] => [`configured key, ${c.label}`, PD_KEY, c.headers, 202]),
    ["unknown key", "pdkey0unknown000000000000000000b", bearer(probeOf("agent_cto")), 400],
    ["the config's variable reference", "${PD_KEY_CHECKOUT}", {}, 400],
    ["an API key as routing key", keyOf(probeOf("agent_cto")), {}, 400],
    ["no routing key", undefined, bearer(probeOf("agent_cto")), 400],
  ];
  for (const [i, [what, key, headers, status]] of cases.entries()) {
    const requestId = `pd-${i}`;
    const a = await send("POST", "/v2/enqueue", { ...headers, "x-request-id": requestId }, JSON.stringify(event(key, i)));
    assert.is(a.status, status, `${what}: ${a.text}`);
    const body = JSON.parse(a.text) as { status: string; errors?: string[] };
    assert.is(body.status, status === 202 ? "success" : "invalid event", what);
    expectedAudit.set(requestId, { what: `PagerDuty ${what}`, tool: PD_AUDIT_TOOL, action: key === undefined ? "?" : "trigger", decision: status === 202 ? "allow" : "deny", ...(status === 202 ? { agent: "pagerduty:PD_KEY_CHECKOUT" } : {}) });
  }
});

test("every request above left exactly one audit record: channel http, its tool and action, allow or deny", async () => {
  const byId = await waitFor(async () => {
    const map = new Map<string, AuditRecord[]>();
    for (const r of await s.running.ctx.stores.audit.query({ limit: 10_000 })) if (r.request_id) map.set(r.request_id, [...(map.get(r.request_id) ?? []), r]);
    return [...expectedAudit.keys()].every((id) => map.has(id)) ? map : null;
  }, { timeoutMs: 20_000, message: `${expectedAudit.size} audit records` });
  let allow = 0;
  for (const [id, e] of expectedAudit) {
    const records = byId.get(id)!;
    assert.is(records.length, 1, `${e.what}: ${records.length} audit records`);
    const r = records[0]!;
    assert.equal([r.channel, r.tool, r.action, r.decision], ["http", e.tool, e.action, e.decision], `${e.what}: ${JSON.stringify(r)}`);
    if (e.agent) assert.is(r.agent_id, e.agent, e.what);
    if (r.decision === "allow") allow++;
  }
  assert.ok(allow > 0 && allow < expectedAudit.size, `${allow} allowed of ${expectedAudit.size}`);
  const all = JSON.stringify([...byId.values()]);
  for (const secret of [PD_KEY, UNKNOWN_KEY, keyOf(probeOf("agent_cto"))]) assert.not.ok(all.includes(secret), `${secret} in the audit`);
});

test("POST /api/v2/alerts: a body the edge refuses (415) is answered as Alertmanager and audited", async () => {
  const res = await fetch(`${base}/api/v2/alerts`, { method: "POST", headers: { ...bearer(probeOf("agent_monitor")), "content-type": "text/plain", "x-request-id": "am-415" }, body: "[]" });
  assert.is(res.status, 415);
  assert.type(JSON.parse(await res.text()), "string", "a JSON string, as Alertmanager answers");
  await waitFor(async () => (await s.running.ctx.stores.audit.query({ tool: AM_AUDIT_TOOL, limit: 10_000 })).some((r) => r.request_id === "am-415"), { message: "its audit record" });
});

test("POST /api/v2/alerts: an alert the ingest worker could not take (over alerts.max_payload_bytes) is 400, not 200", async () => {
  const annotations = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`note_${i}`, "v".repeat(7000)]));
  const a = await send("POST", "/api/v2/alerts", bearer(probeOf("agent_monitor")), JSON.stringify([{ labels: { alertname: "TooBig" }, annotations }]));
  assert.is(a.status, 400, a.text);
});

test("console: every role logs in with its key; its session reads, and tool actions run by its role's entitlements, each audited with channel console", async () => {
  const consoleCallers = [
    ...ROLES.map((role) => ({ label: role, key: keyOf(probeOf(role)) as string | undefined, role: role as string | undefined, agent: probeOf(role) })),
    { label: "unmapped agent", key: keyOf(STRANGER), role: rbac.default_role, agent: STRANGER },
    { label: "unknown key", key: UNKNOWN_KEY, role: undefined, agent: undefined },
    { label: "no session", key: undefined, role: undefined, agent: undefined },
  ];
  // One action per tool: the route is the same for every action (the tool API matrix covers each action).
  const actions = [...registry.values()].map((t) => ({ tool: t.name, action: Object.keys(t.actions)[0]! }));
  const consoleAudit = new Map<string, { what: string; tool: string; action: string; decision: "allow" | "deny"; agent: string }>();
  const tally = { allowed: 0, denied: 0 };
  for (const c of consoleCallers) {
    const res = c.key === undefined ? undefined : await fetch(`${base}/console/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: c.key }) });
    assert.is(res?.status ?? 401, c.role === undefined ? 401 : 200, c.label);
    const cookie = res?.status === 200 ? res.headers.get("set-cookie")!.split(";")[0]! : "";
    const csrf = res?.status === 200 ? ((await res.json()) as { result: { csrf: string } }).result.csrf : "";
    const h = (extra: Record<string, string> = {}): Headers => ({ ...(cookie ? { cookie } : {}), ...extra });
    const session = await send("GET", "/console/session", h());
    const reports = await send("GET", "/console/csp-report", h());
    if (c.role === undefined) {
      for (const a of [session, reports]) assert.is(a.status, 401, `${c.label}: ${a.text}`);
    } else {
      assert.is(session.status, 200, `${c.label}: ${session.text}`);
      assert.is((JSON.parse(session.text) as { result: { role: string } }).result.role, c.role);
      assert.is(reports.status, 200, c.label);
    }
    const events = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/console/events", headers: h() }, (r) => {
        resolve(r.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", reject);
      req.end();
    });
    assert.is(events, c.role === undefined ? 401 : 200, `${c.label}: events`);
    for (const { tool, action } of actions) {
      const requestId = `cx-${++seq}`;
      const what = `${c.label} → console ${tool}.${action}`;
      const a = await send("POST", `/console/api/tools/${tool}/${action}`, h({ "x-csrf-token": csrf, "x-request-id": requestId }), "{}");
      const allowed = c.role !== undefined && rbac.roles[c.role]!.entitlements.includes(entitlementOf(tool, action));
      if (c.role === undefined) assert.is(a.status, 401, `${what}: ${a.text.slice(0, 200)}`);
      else if (allowed) assert.not.ok([401, 403].includes(a.status), `${what}: ${a.status} ${a.text.slice(0, 300)}`);
      else assert.is(a.status, 403, `${what}: ${a.text.slice(0, 300)}`);
      tally[allowed ? "allowed" : "denied"]++;
      consoleAudit.set(requestId, { what, tool, action, decision: allowed ? "allow" : "deny", agent: c.agent ?? "anonymous" });
    }
    if (cookie) {
      assert.is((await send("POST", "/console/logout", h({ "content-type": "application/json" }), "{}")).status, 403, `${c.label}: logout without the CSRF token`);
      assert.is((await send("POST", "/console/logout", h({ "x-csrf-token": csrf }), "{}")).status, 200, `${c.label}: logout`);
    } else {
      assert.is((await send("POST", "/console/logout", h(), "{}")).status, 401, `${c.label}: logout`);
    }
  }
  assert.ok(tally.allowed > 0 && tally.denied > 0, JSON.stringify(tally));
  const records = await waitFor(async () => {
    const all = (await s.running.ctx.stores.audit.query({ limit: 10_000, newest_first: true })).filter((r) => r.request_id && consoleAudit.has(r.request_id));
    return all.length >= consoleAudit.size ? all : null;
  }, { timeoutMs: 20_000, message: `${consoleAudit.size} console audit records` });
  assert.is(records.length, consoleAudit.size);
  for (const r of records) {
    const e = consoleAudit.get(r.request_id!)!;
    assert.equal([r.channel, r.tool, r.action, r.decision, r.agent_id], ["console", e.tool, e.action, e.decision, e.agent], `${e.what}: ${JSON.stringify(r)}`);
  }
  console.log(`matrix: console ${JSON.stringify(tally)}`);
});

test("console pages: no session or an unknown one is 303 to the login page (next = the page), no audit record; a monitor's session reads each", async () => {
  const doc = openApiDocument(registry) as { paths: Record<string, Record<string, { security?: unknown[]; responses?: Record<string, unknown> }>> };
  // Every page behind a session, as /openapi.json lists them: a page added later is covered here too.
  const pages = Object.entries(doc.paths).flatMap(([path, item]) => (item.get?.security?.length && item.get.responses?.["303"] ? [path.replace("{id}", incidentId)] : []));
  assert.ok(pages.length >= CONSOLE_PAGES.length, pages.join(", "));
  const monitor = await fetch(`${base}/console/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: keyOf(probeOf("agent_monitor")) }) });
  assert.is(monitor.status, 200);
  const cookie = monitor.headers.get("set-cookie")!.split(";")[0]!;
  const ids: string[] = [];
  for (const path of pages) {
    for (const [label, headers] of [["no session", {}], ["unknown session", { cookie: `opsbus_session=${"0".repeat(43)}` }]] as const) {
      const requestId = `pg-${++seq}`;
      ids.push(requestId);
      const a = await fetch(`${base}${path}`, { headers: { ...headers, "x-request-id": requestId }, redirect: "manual" });
      assert.is(a.status, 303, `${label} → GET ${path}`);
      assert.is(a.headers.get("location"), `/console/login?next=${encodeURIComponent(path)}`, `${label} → GET ${path}`);
    }
    const read = await fetch(`${base}${path}`, { headers: { cookie }, redirect: "manual" });
    // A page whose doc lists 403 needs a tool entitlement (release check, audit read) that a monitor lacks: it refuses, as an HTML page.
    const refuses = !!doc.paths[path]?.get?.responses?.["403"];
    assert.is(read.status, refuses ? 403 : 200, `monitor → GET ${path}`);
    assert.match(read.headers.get("content-type") ?? "", /^text\/html/);
  }
  // Redirects are not audited: none of the requests above left a record.
  const records = (await s.running.ctx.stores.audit.query({ limit: 10_000 })).filter((r) => r.request_id && ids.includes(r.request_id));
  assert.equal(records, []);
});

test("console: a monitor's session writes nothing: every action its role lacks is 403 with a valid CSRF token, audited deny on channel console, and the incident is as it was", async () => {
  const before = await s.call<{ incident: { status: string; updated_at: string } }>("oncall_tool", "incident_get", { incident_id: incidentId }, { agent: probeOf("agent_cto"), key: keyOf(probeOf("agent_cto")) });
  assert.ok(before.ok, JSON.stringify(before));
  const res = await fetch(`${base}/console/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: keyOf(probeOf("agent_monitor")) }) });
  assert.is(res.status, 200);
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  const csrf = ((await res.json()) as { result: { csrf: string } }).result.csrf;
  const granted = new Set(rbac.roles.agent_monitor!.entitlements);
  const lacking = [...registry.values()].flatMap((t) => Object.keys(t.actions).filter((a) => !granted.has(entitlementOf(t.name, a))).map((action) => ({ tool: t.name, action })));
  assert.ok(lacking.length > 10, `${lacking.length} actions the monitor lacks`);
  const want = new Map<string, string>();
  for (const { tool, action } of lacking) {
    const requestId = `mw-${++seq}`;
    const params = tool === "oncall_tool" ? { incident_id: incidentId, resolution: "monitor", message: "monitor", type: "note" } : {};
    const a = await send("POST", `/console/api/tools/${tool}/${action}`, { cookie, "x-csrf-token": csrf, "x-request-id": requestId }, JSON.stringify(params));
    assert.is(a.status, 403, `monitor → console ${tool}.${action}: ${a.text.slice(0, 200)}`);
    assert.is((JSON.parse(a.text) as { error: { code: string } }).error.code, "forbidden");
    want.set(requestId, `${tool}.${action}`);
  }
  const records = await waitFor(async () => {
    const all = (await s.running.ctx.stores.audit.query({ limit: 10_000, newest_first: true })).filter((r) => r.request_id && want.has(r.request_id));
    return all.length >= want.size ? all : null;
  }, { timeoutMs: 20_000, message: `${want.size} audit records of the monitor's writes` });
  assert.is(records.length, want.size);
  for (const r of records) assert.equal([r.channel, r.agent_id, `${r.tool}.${r.action}`, r.decision], ["console", probeOf("agent_monitor"), want.get(r.request_id!), "deny"]);
  const after = await s.call<{ incident: { status: string; updated_at: string }; events: unknown[] }>("oncall_tool", "incident_get", { incident_id: incidentId }, { agent: probeOf("agent_cto"), key: keyOf(probeOf("agent_cto")) });
  assert.ok(after.ok, JSON.stringify(after));
  assert.equal([after.result.incident.status, after.result.incident.updated_at], [before.result.incident.status, before.result.incident.updated_at], "the incident is unchanged");
});

test.run();
