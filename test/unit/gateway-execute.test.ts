import { test } from "uvu";
import * as assert from "uvu/assert";
import { executeTool } from "../../src/gateway/index.js";
import { callerFor } from "../../src/gateway/rbac.js";
import { errorOf, hangs, harness, rbac, resultOf } from "./gateway-fixtures.js";

test("a valid call replies ok and leaves one allow/ok audit record", async () => {
  const h = harness();
  const reply = await h.call({ action: "say", params: { text: "hi" }, agent_id: "alice" }, { headers: { "X-Request-Id": "r1" } });
  assert.equal(resultOf(reply), { text: "hi", agent: "alice", role: "writer", authenticated: false });
  const [rec, ...rest] = await h.audited();
  assert.equal(rest.length, 0);
  assert.ok(rec);
  assert.equal(
    { agent: rec.agent_id, role: rec.role, tool: rec.tool, action: rec.action, decision: rec.decision, status: rec.status },
    { agent: "alice", role: "writer", tool: "echo_tool", action: "say", decision: "allow", status: "ok" },
  );
  assert.equal([rec.channel, rec.node_id, rec.request_id, rec.ts], ["nats", "node-test", "r1", "2026-03-02T10:00:00.000Z"]);
  assert.ok(rec.duration_ms >= 0);
  assert.is(rec.error_message, undefined);
});

test("an oversize body is payload_too_large before parsing, audited with action ?", async () => {
  const h = harness();
  const body = `{"action":"say","params":{"text":"${"x".repeat(2000)}"}}`;
  const err = errorOf(await h.call(body));
  assert.is(err.code, "payload_too_large");
  assert.equal(err.details, { size_bytes: body.length, max_bytes: 1024 });
  const [rec] = await h.audited();
  assert.equal([rec?.action, rec?.decision, rec?.status, rec?.role], ["?", "deny", "payload_too_large", "unknown"]);
});

test("garbage bytes, non-JSON text and empty bodies are invalid_request", async () => {
  const h = harness();
  for (const body of [new Uint8Array([0xff, 0xfe, 0x00, 0x81]), "{nope", "", new Uint8Array()]) {
    assert.is(errorOf(await h.call(body)).code, "invalid_request");
  }
  const recs = await h.audited();
  assert.equal(recs.map((r) => [r.action, r.status]), Array(4).fill(["?", "invalid_request"]));
});

test("a malformed envelope is invalid_request with zod issues, audited with the known action", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "say", params: [1], extra: true, agent_id: "alice" }));
  assert.is(err.code, "invalid_request");
  const issues = (err.details as { issues: { path: string; message: string }[] }).issues;
  assert.equal(issues.map((i) => i.path).sort(), ["(root)", "params"]);
  assert.is(errorOf(await h.call([1, 2])).code, "invalid_request");
  const [first, second] = await h.audited();
  assert.equal([first?.action, first?.agent_id, first?.status], ["say", "alice", "invalid_request"]);
  assert.is(second?.action, "?");
});

test("unknown tool and unknown action are not_found and list what exists", async () => {
  const h = harness();
  const noTool = errorOf(await h.call({ action: "say", params: {} }, { tool: "nope_tool" }));
  assert.is(noTool.code, "not_found");
  assert.equal(noTool.details, { tools: ["echo_tool"] });
  for (const name of ["shout", "constructor", "__proto__"]) {
    const noAction = errorOf(await h.call({ action: name, params: {} }));
    assert.is(noAction.code, "not_found", name);
    assert.equal(noAction.details, { actions: ["say", "act"] });
  }
  const recs = await h.audited();
  assert.equal(recs.map((r) => [r.tool, r.action]), [["nope_tool", "say"], ["echo_tool", "shout"], ["echo_tool", "constructor"], ["echo_tool", "__proto__"]]);
});

test("a role without the action's entitlement is forbidden, naming the entitlement", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "act", params: { mode: "ok" }, agent_id: "bob" }));
  assert.is(err.code, "forbidden");
  assert.match(err.message, "tools.echo.write");
  assert.equal(err.details, { entitlement: "tools.echo.write", role: "reader" });
  const [rec] = await h.audited();
  assert.equal([rec?.agent_id, rec?.role, rec?.decision, rec?.status], ["bob", "reader", "deny", "forbidden"]);
});

test("params failing the action's schema are invalid_request with path and message", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "act", params: { mode: "fly" }, agent_id: "alice" }));
  assert.is(err.code, "invalid_request");
  const issues = (err.details as { issues: { path: string; message: string }[] }).issues;
  assert.is(issues[0]?.path, "mode");
  assert.ok(issues[0]?.message);
  const [rec] = await h.audited();
  assert.equal([rec?.decision, rec?.status], ["allow", "invalid_request"]);
});

test("an OpsError from a handler keeps its code and details", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "act", params: { mode: "conflict" }, agent_id: "alice" }));
  assert.equal(err, { code: "conflict", message: "already done", details: { id: "x1" } });
});

test("an unexpected error is internal: logged with its stack, text not leaked, secrets scrubbed in the log", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "act", params: { mode: "crash" }, agent_id: "alice" }));
  assert.equal(err, { code: "internal", message: "internal error" });
  const logged = h.lines.map((l) => JSON.parse(l) as { level: number; err?: { message: string; stack: string } });
  const errorLine = logged.find((l) => l.level === 50 && l.err);
  assert.ok(errorLine, "the error is logged");
  assert.match(errorLine.err?.message ?? "", "postgres://app:***@db/ops");
  assert.not.match(h.lines.join("\n"), "app:hunter2@");
  const [rec] = await h.audited();
  assert.equal([rec?.status, rec?.error_message], ["internal", "internal error"]);
});

test("bearer keys and DSN passwords are scrubbed from error messages in reply and audit", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "act", params: { mode: "leak" }, agent_id: "alice" }));
  assert.is(err.code, "unavailable");
  assert.not.match(err.message, "sk-live-123");
  assert.not.match(err.message, "hunter2");
  const [rec] = await h.audited();
  assert.is(rec?.error_message, "backend postgres://app:***@db/ops refused Authorization: Bearer ***");
});

test("audit params are redacted by key, bearer-scrubbed and cut", async () => {
  const h = harness({ limits: { defaults: { max_payload_bytes: 65536 } } });
  const params = {
    text: "hi",
    Password: "hunter2",
    nested: { Client_Secret: "s", API_KEY: "k", note: "Bearer abc.def" },
    long: "y".repeat(2000),
  };
  resultOf(await h.call({ action: "say", params, agent_id: "alice" }));
  const [rec] = await h.audited();
  assert.is(rec?.params.Password, "***");
  assert.equal(rec?.params.nested, { Client_Secret: "***", API_KEY: "***", note: "Bearer ***" });
  assert.ok(String(rec?.params.long).length < 600);
  assert.not.match(JSON.stringify(rec), "hunter2");
});

test("a handler past its timeout is unavailable, its signal aborted, and the gateway keeps serving", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "act", params: { mode: "hang" }, agent_id: "alice" }));
  assert.equal([err.code, err.message], ["unavailable", "timed out after 50 ms"]);
  assert.ok(hangs.at(-1)?.aborted);
  resultOf(await h.call({ action: "say", params: { text: "still here" }, agent_id: "alice" }));
  const recs = await h.audited();
  assert.equal(recs.map((r) => r.status), ["unavailable", "ok"]);
});

test("a result too big for the channel is payload_too_large, and audited so", async () => {
  const h = harness();
  const err = errorOf(await h.call({ action: "act", params: { mode: "big" }, agent_id: "alice" }, { maxReplyBytes: 1000 }));
  assert.is(err.code, "payload_too_large");
  const [rec] = await h.audited();
  assert.equal([rec?.decision, rec?.status], ["allow", "payload_too_large"]);
});

test("a trusted caller (scheduler) skips auth but not RBAC; parsed bodies are accepted", async () => {
  const h = harness({ opsEnv: "prod" });
  const svc = callerFor(rbac, "svc", { authenticated: true, channel: "scheduler" });
  const ok = await executeTool(h.deps, { tool: "echo_tool", channel: "scheduler", body: { action: "act", params: { mode: "ok" } }, trustedCaller: svc });
  assert.equal(resultOf(ok), { done: true });
  const reader = callerFor(rbac, "bob", { authenticated: true, channel: "scheduler" });
  const denied = await executeTool(h.deps, { tool: "echo_tool", channel: "scheduler", body: { action: "act", params: { mode: "ok" } }, trustedCaller: reader });
  assert.is(errorOf(denied).code, "forbidden");
  const spoof = await executeTool(h.deps, { tool: "echo_tool", channel: "scheduler", body: { action: "say", params: { text: "x" }, agent_id: "alice" }, trustedCaller: svc });
  assert.is(errorOf(spoof).code, "forbidden");
  const recs = await h.audited();
  assert.equal(recs.map((r) => [r.agent_id, r.channel, r.status]), [["svc", "scheduler", "ok"], ["bob", "scheduler", "forbidden"], ["svc", "scheduler", "forbidden"]]);
});

test("exactly one audit record per call, whatever the outcome", async () => {
  const h = harness();
  const bodies: unknown[] = [
    { action: "say", params: { text: "a" } },
    "garbage",
    "x".repeat(5000),
    { action: "nope" },
    { action: "act", params: { mode: "ok" }, agent_id: "bob" },
    { action: "act", params: { mode: "crash" }, agent_id: "alice" },
    { action: "act", params: { mode: "hang" }, agent_id: "alice" },
    { action: "act", params: { mode: "conflict" }, agent_id: "alice" },
    { action: "act", params: { mode: 1 }, agent_id: "alice" },
  ];
  await Promise.all(bodies.map((b) => h.call(b)));
  const recs = await h.audited();
  assert.is(recs.length, bodies.length);
  assert.is(new Set(recs.map((r) => r.id)).size, bodies.length);
  assert.equal(
    recs.map((r) => r.status).sort(),
    ["conflict", "forbidden", "internal", "invalid_request", "invalid_request", "not_found", "ok", "payload_too_large", "unavailable"],
  );
});

test.run();
