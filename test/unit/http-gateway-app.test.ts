/**
 * The gateway's HTTP app without a socket (`app.inject()`): the tool route is a thin adapter over
 * executeTool, every reply's status comes from one table, and edge refusals are envelopes.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { buildHttpApp } from "../../src/http/server.js";
import { action, type ToolDef } from "../../src/tools/types.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { echoTool, harness, type Harness } from "./gateway-fixtures.js";

/** Answers like alert_ingest_tool.ingest refusing an alert. */
const refuseTool: ToolDef = {
  name: "refuse_tool",
  description: "test tool",
  actions: {
    ingest: action({
      entitlement: "tools.echo.read",
      description: "refuses",
      params: z.looseObject({}),
      handler: async () => ({ accepted: false, reasons: ["title: required"] }),
    }),
  },
};

function app(h: Harness) {
  const health = { ok: true };
  const built = buildHttpApp({ gateway: h.deps, logger: h.deps.logger, health: async () => health, status: async () => ({ online: true }) });
  return { app: built.app, health };
}

const json = (tool: string, body: Record<string, unknown>, headers: Record<string, string | string[]> = {}) => ({
  method: "POST" as const,
  url: "/v1/tools/execute",
  headers: { "content-type": "application/json", ...headers },
  payload: JSON.stringify({ tool, ...body }),
});

test("the status follows the reply: ok 200, accepted:false 422, each error code its own", async () => {
  const h = harness({ tools: [echoTool, refuseTool] });
  const { app: a } = app(h);
  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ["echo_tool", { action: "say", params: { text: "hi" }, agent_id: "alice" }, 200, "ok"],
    ["refuse_tool", { action: "ingest", params: {}, agent_id: "alice" }, 422, "ok"],
    ["echo_tool", { action: "act", params: { mode: "conflict" }, agent_id: "alice" }, 409, "conflict"],
    ["echo_tool", { action: "act", params: { mode: "crash" }, agent_id: "alice" }, 500, "internal"],
    ["echo_tool", { action: "act", params: { mode: "leak" }, agent_id: "alice" }, 503, "unavailable"],
    ["echo_tool", { action: "act", params: { mode: "ok" }, agent_id: "bob" }, 403, "forbidden"],
    ["echo_tool", { action: "nope", params: {} }, 404, "not_found"],
    ["echo_tool", { action: "say", params: { text: 5 } }, 400, "invalid_request"],
  ];
  for (const [tool, body, status, code] of cases) {
    const res = await a.inject(json(tool, body));
    const reply = res.json<ToolReply>();
    assert.is(res.statusCode, status, `${code}: ${res.body}`);
    assert.is(reply.ok ? "ok" : reply.error.code, code);
  }
  const refused = (await a.inject(json("refuse_tool", { action: "ingest", params: {} }))).json<ToolReply>();
  assert.equal(refused, { ok: true, result: { accepted: false, reasons: ["title: required"] } });
  await a.close();
});

test("two Authorization headers: 400 invalid_request, audited as a denied http call", async () => {
  const h = harness({ opsEnv: "prod" });
  const { app: a } = app(h);
  const res = await a.inject(json("echo_tool", { action: "say", params: { text: "hi" } }, { authorization: ["Bearer key-alice", "Bearer key-bob"] }));
  assert.is(res.statusCode, 400, res.body);
  assert.match(res.json<{ error: { message: string } }>().error.message, "2 Authorization headers");
  const one = await a.inject(json("echo_tool", { action: "say", params: { text: "hi" } }, { authorization: "Bearer key-alice" }));
  assert.is(one.statusCode, 200, one.body);
  const [denied] = await h.audited();
  assert.equal([denied?.channel, denied?.decision, denied?.status], ["http", "deny", "invalid_request"]);
  await a.close();
});

test("a body over the bound is 413 from its Content-Length, audited, and the connection closed", async () => {
  const h = harness();
  const { app: a } = app(h);
  // tool_limits here: 1024 bytes; the HTTP bound adds 512 for the tool member.
  const res = await a.inject({ ...json("echo_tool", { action: "say", params: { text: "x".repeat(3000) } }), headers: { "content-type": "application/json", "x-request-id": "big-1" } });
  assert.equal([res.statusCode, res.headers.connection, res.json<ToolReply>().ok], [413, "close", false]);
  assert.match(res.body, /"code":"payload_too_large"/);
  const [rec] = await h.audited();
  assert.equal([rec?.channel, rec?.status, rec?.tool, rec?.request_id], ["http", "payload_too_large", "?", "big-1"]);
  await a.close();
});

test("edge refusals are envelopes: 415 for non-JSON, 405 with Allow, 404 naming the routes", async () => {
  const { app: a } = app(harness());
  const plain = await a.inject({ method: "POST", url: "/v1/tools/execute", headers: { "content-type": "text/plain" }, payload: "{}" });
  assert.equal([plain.statusCode, plain.json<{ error: { code: string } }>().error.code], [415, "invalid_request"]);
  const get = await a.inject({ method: "GET", url: "/v1/tools/execute" });
  assert.equal([get.statusCode, get.headers.allow], [405, "POST"]);
  const head = await a.inject({ method: "HEAD", url: "/v1/tools/execute" });
  assert.is(head.statusCode, 405);
  const missing = await a.inject({ method: "GET", url: "/nope" });
  assert.is(missing.statusCode, 404);
  const listed = missing.json<{ error: { message: string } }>().error.message;
  for (const path of ["/healthz", "/metrics", "/monitor/status", "/v1/tools/execute"]) assert.ok(listed.includes(path), `${path} in: ${listed}`);
  assert.equal((await a.inject({ method: "GET", url: "/monitor/status" })).json(), { online: true });
  // Without a metrics function /metrics says so instead of serving an empty page.
  assert.is((await a.inject({ method: "GET", url: "/metrics" })).statusCode, 404);
  await a.close();
});

test.run();
