/**
 * The console's server routes on the HTTP app without a socket (memory sessions, a test clock):
 * login, session, logout, idle expiry, CSRF and same-origin refusals (audited), tool calls through
 * the gateway core on channel console, login failures audited without the key and rate limited.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MemorySessionStore, sessionHash, sessionPolicy } from "../../src/console/session.js";
import { ConsoleSessions } from "../../src/http/console/sessions.js";
import { LOGIN_RATE } from "../../src/http/console/routes.js";
import { buildHttpApp } from "../../src/http/server.js";
import { harness, type Harness } from "./gateway-fixtures.js";

type Opts = { opsEnv?: "dev" | "prod"; publicUrl?: string };

function app(o: Opts = {}) {
  const h = harness({ opsEnv: o.opsEnv ?? "dev" });
  const store = new MemorySessionStore();
  const sessions = new ConsoleSessions(store, sessionPolicy(30, 12), h.deps.now!);
  const edge = buildHttpApp({ gateway: h.deps, logger: h.deps.logger, health: async () => ({ ok: true }), status: async () => ({}), console: { sessions, ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}) } });
  return { h, store, app: edge.app };
}

type App = ReturnType<typeof app>;
const HOST = "console.test";

async function login(a: App, body: Record<string, string>, headers: Record<string, string> = {}) {
  return a.app.inject({ method: "POST", url: "/console/login", headers: { host: HOST, "content-type": "application/json", ...headers }, payload: JSON.stringify(body) });
}

async function loggedIn(a: App, body: Record<string, string>) {
  const res = await login(a, body);
  assert.is(res.statusCode, 200, res.body);
  const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
  const session = (await a.app.inject({ method: "GET", url: "/console/session", headers: { host: HOST, cookie } })).json<{ result: { csrf: string; agent: string; role: string; entitlements: string[]; expires_at: string } }>().result;
  return { cookie, ...session };
}

const call = (a: App, path: string, cookie: string, headers: Record<string, string> = {}, payload: unknown = {}) =>
  a.app.inject({ method: "POST", url: path, headers: { host: HOST, cookie, "content-type": "application/json", ...headers }, payload: JSON.stringify(payload) });

async function audited(h: Harness) {
  return h.audited();
}

test("dev login by agent name: the session cookie's flags, the session's role, entitlements and CSRF token", async () => {
  const a = app();
  const res = await login(a, { agent: "alice" });
  assert.is(res.statusCode, 200, res.body);
  const cookie = String(res.headers["set-cookie"]);
  assert.match(cookie, /^opsbus_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  assert.is(res.headers["x-content-type-options"], "nosniff");
  assert.is(res.headers["referrer-policy"], "no-referrer");
  const s = await loggedIn(a, { agent: "alice" });
  assert.equal([s.agent, s.role, s.entitlements], ["alice", "writer", ["tools.echo.read", "tools.echo.write"]]);
  assert.is(s.expires_at, new Date(a.h.clock.ms + 30 * 60_000).toISOString());
  // The store holds hashes, never the id.
  const id = cookie.split(";")[0]!.split("=")[1]!;
  assert.is(a.store.size, 2);
  assert.is(await a.store.get(id), undefined);
  const stored = await a.store.get(sessionHash(id));
  assert.ok(stored && !JSON.stringify(stored).includes(id));
});

test("dev login refuses an agent the matrix does not list; prod refuses agent logins; an API key works everywhere", async () => {
  const dev = app();
  assert.is((await login(dev, { agent: "mallory" })).statusCode, 401);
  // A key typed into the agent field is neither answered back nor audited: only its length.
  const typo = await login(dev, { agent: "key-bob" });
  assert.is(typo.statusCode, 401);
  assert.not.match(typo.body, /key-bob/);
  const records = await audited(dev.h);
  assert.not.ok(JSON.stringify(records).includes("key-bob"), "the audit keeps no key");
  assert.ok(records.some((r) => r.action === "login" && r.decision === "deny" && (r.params as { agent_chars?: number }).agent_chars === "key-bob".length));
  assert.is((await login(dev, { api_key: "key-bob" })).statusCode, 200);
  const prod = app({ opsEnv: "prod" });
  const byName = await login(prod, { agent: "alice" });
  assert.is(byName.statusCode, 401, byName.body);
  assert.is(byName.json<{ error: { code: string } }>().error.code, "unauthenticated");
  const s = await loggedIn(prod, { api_key: "key-alice" });
  assert.is(s.agent, "alice");
  const form = await prod.app.inject({ method: "POST", url: "/console/login", headers: { host: HOST, "content-type": "application/x-www-form-urlencoded" }, payload: "api_key=key-bob" });
  assert.is(form.statusCode, 200, form.body);
});

test("login failures are audited with the reason and the key's length, never the key; then rate limited per address", async () => {
  const a = app({ opsEnv: "prod" });
  const key = "sk-wrong-Zq81Lm";
  // Successful logins do not count.
  for (let i = 0; i < LOGIN_RATE.burst + 5; i++) assert.is((await login(a, { api_key: "key-bob" })).statusCode, 200);
  for (let i = 0; i < LOGIN_RATE.burst; i++) assert.is((await login(a, { api_key: key })).statusCode, 401);
  const blocked = await login(a, { api_key: key });
  assert.is(blocked.statusCode, 401, "the failure that empties the bucket is still answered as a failure");
  const limited = await login(a, { api_key: "key-alice" });
  assert.is(limited.statusCode, 429, limited.body);
  assert.ok(Number(limited.headers["retry-after"]) >= 1);
  const records = await audited(a.h);
  const denied = records.filter((r) => r.tool === "console" && r.action === "login" && r.decision === "deny");
  assert.is(denied.length, LOGIN_RATE.burst + 2);
  assert.equal(denied[0]!.params, { reason: "unknown API key", ip: "127.0.0.1", key_chars: key.length });
  assert.is(denied[0]!.channel, "console");
  assert.is(denied.at(-1)!.status, "rate_limited");
  assert.not.ok(JSON.stringify(records).includes(key));
  assert.not.ok(JSON.stringify(records).includes("key-alice"));
  // A minute later (10 a minute) the address may try again.
  a.h.clock.ms += 60_000;
  assert.is((await login(a, { api_key: "key-alice" })).statusCode, 200);
});

test("logout ends the session (audited); the old cookie is refused afterwards", async () => {
  const a = app();
  const s = await loggedIn(a, { agent: "alice" });
  const noToken = await call(a, "/console/logout", s.cookie);
  assert.is(noToken.statusCode, 403);
  const out = await call(a, "/console/logout", s.cookie, { "x-csrf-token": s.csrf });
  assert.is(out.statusCode, 200, out.body);
  assert.match(String(out.headers["set-cookie"]), /^opsbus_session=; .*Max-Age=0/);
  assert.is((await a.app.inject({ method: "GET", url: "/console/session", headers: { host: HOST, cookie: s.cookie } })).statusCode, 401);
  assert.is((await call(a, "/console/api/tools/echo_tool/say", s.cookie, { "x-csrf-token": s.csrf }, { text: "hi" })).statusCode, 401);
  const actions = (await audited(a.h)).filter((r) => r.tool === "console").map((r) => `${r.action}:${r.decision}`);
  assert.equal(actions, ["login:allow", "logout:deny", "logout:allow", "session:deny"]);
});

test("idle expiry on the clock: a request within 30 minutes keeps the session, 30 minutes of silence ends it; 12 h ends it however busy", async () => {
  const a = app();
  const s = await loggedIn(a, { agent: "bob" });
  const get = () => a.app.inject({ method: "GET", url: "/console/session", headers: { host: HOST, cookie: s.cookie } });
  for (let i = 0; i < 4; i++) {
    a.h.clock.ms += 25 * 60_000;
    assert.is((await get()).statusCode, 200, `after ${(i + 1) * 25} busy minutes`);
  }
  a.h.clock.ms += 30 * 60_000;
  const idle = await get();
  assert.is(idle.statusCode, 401);
  assert.match(idle.json<{ error: { message: string } }>().error.message, /idle/);
  const b = await loggedIn(a, { agent: "bob" });
  for (let i = 0; i < 12 * 60 / 20; i++) {
    a.h.clock.ms += 20 * 60_000;
    const r = await a.app.inject({ method: "GET", url: "/console/session", headers: { host: HOST, cookie: b.cookie } });
    if (i < 12 * 60 / 20 - 1) assert.is(r.statusCode, 200, `minute ${(i + 1) * 20}`);
    else assert.match(r.body, /absolute/);
  }
});

test("tool calls run through the gateway core as the session's agent on channel console; RBAC refusals audited there", async () => {
  const a = app();
  const writer = await loggedIn(a, { agent: "alice" });
  const ok = await call(a, "/console/api/tools/echo_tool/act", writer.cookie, { "x-csrf-token": writer.csrf, "x-request-id": "c-1" }, { mode: "ok" });
  assert.is(ok.statusCode, 200, ok.body);
  assert.equal(ok.json(), { ok: true, result: { done: true } });
  const said = await call(a, "/console/api/tools/echo/say", writer.cookie, { "x-csrf-token": writer.csrf }, { text: "hi" });
  assert.equal(said.json<{ result: unknown }>().result, { text: "hi", agent: "alice", role: "writer", authenticated: false });
  const reader = await loggedIn(a, { agent: "bob" });
  const denied = await call(a, "/console/api/tools/echo_tool/act", reader.cookie, { "x-csrf-token": reader.csrf, "x-request-id": "c-2" }, { mode: "ok" });
  assert.is(denied.statusCode, 403, denied.body);
  const bad = await call(a, "/console/api/tools/echo_tool/act", writer.cookie, { "x-csrf-token": writer.csrf }, { mode: "nope" });
  assert.is(bad.statusCode, 400);
  const records = await audited(a.h);
  const byId = (id: string) => records.find((r) => r.request_id === id)!;
  assert.equal([byId("c-1").channel, byId("c-1").agent_id, byId("c-1").tool, byId("c-1").action, byId("c-1").decision], ["console", "alice", "echo_tool", "act", "allow"]);
  assert.equal([byId("c-2").channel, byId("c-2").agent_id, byId("c-2").decision, byId("c-2").status], ["console", "bob", "deny", "forbidden"]);
});

test("writes without the CSRF token, with another session's token, or cross-origin are refused 403 and audited; no session is 401", async () => {
  const a = app();
  const s = await loggedIn(a, { agent: "alice" });
  const other = await loggedIn(a, { agent: "carol" });
  const path = "/console/api/tools/echo_tool/act";
  const cases: Array<[string, Record<string, string>, string, number]> = [
    ["no token", {}, "missing csrf token", 403],
    ["another session's token", { "x-csrf-token": other.csrf }, "bad csrf token", 403],
    ["cross-site fetch", { "x-csrf-token": s.csrf, "sec-fetch-site": "cross-site" }, "cross-site", 403],
    ["other origin", { "x-csrf-token": s.csrf, origin: "https://evil.example" }, "origin mismatch", 403],
  ];
  for (const [what, headers, reason, status] of cases) {
    const res = await call(a, path, s.cookie, { ...headers, "x-request-id": what }, { mode: "ok" });
    assert.is(res.statusCode, status, `${what}: ${res.body}`);
  }
  const same = await call(a, path, s.cookie, { "x-csrf-token": s.csrf, origin: `http://${HOST}`, "sec-fetch-site": "same-origin" }, { mode: "ok" });
  assert.is(same.statusCode, 200, same.body);
  const none = await call(a, path, "", { "x-request-id": "no session" }, { mode: "ok" });
  assert.is(none.statusCode, 401);
  const records = await audited(a.h);
  for (const [what, , reason] of cases) {
    const r = records.find((x) => x.request_id === what);
    assert.ok(r, what);
    assert.equal([r!.channel, r!.agent_id, r!.tool, r!.action, r!.decision, r!.status, (r!.params as { reason: string }).reason], ["console", "alice", "echo_tool", "act", "deny", "forbidden", reason], what);
  }
  assert.is(records.find((x) => x.request_id === "no session")?.status, "unauthenticated");
  assert.not.ok(JSON.stringify(records).includes(s.csrf), "the token is not audited");
  const crossLogin = await login(a, { agent: "alice" }, { origin: "https://evil.example" });
  assert.is(crossLogin.statusCode, 403);
});

test("Secure cookies when OPSBUS_PUBLIC_URL is https, whose origin is then accepted too", async () => {
  const a = app({ publicUrl: "https://ops.example.com/" });
  const res = await login(a, { agent: "alice" }, { origin: "https://ops.example.com" });
  assert.is(res.statusCode, 200, res.body);
  assert.match(String(res.headers["set-cookie"]), /; Secure$/);
});

test("CSP reports are counted; reading the count needs a session; the live feed needs a session and answers 503 without one running", async () => {
  const a = app();
  const report = { "csp-report": { "document-uri": "http://x/console", "violated-directive": "script-src-elem", "blocked-uri": "inline" } };
  const posted = await a.app.inject({ method: "POST", url: "/console/csp-report", headers: { "content-type": "application/csp-report" }, payload: JSON.stringify(report) });
  assert.is(posted.statusCode, 204);
  await a.app.inject({ method: "POST", url: "/console/csp-report", headers: { "content-type": "application/reports+json" }, payload: JSON.stringify([{ type: "csp-violation", body: { effectiveDirective: "script-src-attr", blockedURL: "inline" } }]) });
  assert.is((await a.app.inject({ method: "GET", url: "/console/csp-report" })).statusCode, 401);
  const s = await loggedIn(a, { agent: "bob" });
  const counted = await a.app.inject({ method: "GET", url: "/console/csp-report", headers: { cookie: s.cookie } });
  assert.equal(counted.json<{ result: { count: number; recent: Array<{ directive: string }> } }>().result.count, 2);
  assert.is((await a.app.inject({ method: "GET", url: "/console/events" })).statusCode, 401);
  assert.is((await a.app.inject({ method: "GET", url: "/console/events", headers: { cookie: s.cookie } })).statusCode, 503);
});

test("without console deps the routes answer 404", async () => {
  const h = harness();
  const edge = buildHttpApp({ gateway: h.deps, logger: h.deps.logger, health: async () => ({ ok: true }), status: async () => ({}) });
  assert.is((await edge.app.inject({ method: "POST", url: "/console/login", headers: { "content-type": "application/json" }, payload: "{}" })).statusCode, 404);
  assert.is((await edge.app.inject({ method: "GET", url: "/console/session" })).statusCode, 404);
});

test.run();
