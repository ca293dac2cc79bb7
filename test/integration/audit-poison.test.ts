/**
 * Issue 11, finding 1, as reproduced: with the Postgres audit backend, one NUL byte in a request's
 * params (no credentials needed, unknown tool), a 511-character note ending in an emoji (cut into a
 * lone surrogate) or `agent_id: "constructor"` (a role from Object.prototype) made the audit writer
 * retry one poison batch forever: no later call was recorded. Each case, over NATS and over HTTP,
 * is followed by proof that Postgres still records the calls after it.
 */
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { ToolReply } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase, type TestDatabase, testPool } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let db: TestDatabase;
let sql: pg.Pool;
let base: string;
let n = 0;

test.before(async () => {
  db = await createTestDatabase();
  sql = testPool(db.url);
  const port = await freePort();
  s = await startStack({ roles: ["gateway"], env: { AUDIT_BACKEND: "postgres", AUDIT_DATABASE_URL: db.url, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" } });
  base = `http://127.0.0.1:${port}/v1/tools/execute`;
});
test.after(async () => {
  await s?.stop();
  await sql?.end();
  await db?.drop();
});

/**
 * A raw request body over NATS to ops.tools.<tool>. NATS has an endpoint per known tool only, so
 * the reproduction's unknown tool `x` becomes an unknown action there (the same 404); the NATS
 * envelope has no `tool` field, so it is dropped from the body.
 */
async function overNats(tool: string, body: string, requestId: string): Promise<ToolReply> {
  const { tool: _tool, ...envelope } = JSON.parse(body) as Record<string, unknown>;
  body = JSON.stringify(envelope);
  const h = natsHeaders();
  h.set("X-Request-Id", requestId);
  return (await s.client.request(s.running.ctx.subjects.tools.of(tool), body, { timeout: 10_000, headers: h })).json<ToolReply>();
}

async function overHttp(body: string, requestId: string): Promise<{ status: number; reply: ToolReply }> {
  const res = await fetch(base, { method: "POST", headers: { "content-type": "application/json", "x-request-id": requestId }, body });
  return { status: res.status, reply: (await res.json()) as ToolReply };
}

type Row = { agent_id: string; role: string; tool: string; status: string; params: Record<string, unknown>; channel: string };
const stored = (requestId: string) =>
  waitFor(async () => (await sql.query<Row>("SELECT * FROM audit_log WHERE request_id = $1", [requestId])).rows[0], {
    timeoutMs: 15_000,
    message: `audit record ${requestId} in Postgres`,
  });

/** A plain call after the poison one: it must reach Postgres too (the audit was blacked out before). */
async function laterCallIsRecorded(channel: "nats" | "http"): Promise<void> {
  const id = `later-${channel}-${++n}`;
  const body = JSON.stringify({ tool: "jobs_tool", action: "list_runs", params: { limit: 1 }, agent_id: "sofiia" });
  if (channel === "nats") assert.ok((await overNats("jobs_tool", body, id)).ok, "ok over NATS");
  else assert.is((await overHttp(body, id)).status, 200);
  const row = await stored(id);
  assert.equal([row.agent_id, row.status, row.channel], ["sofiia", "ok", channel]);
}

const NUL_BODY = '{"tool":"x","action":"y","params":{"a":"\\u0000"}}';
const NOTE = `${"n".repeat(511)}😀`;

test("NUL in params (unknown action over NATS): a normal 404, audited (NUL as text), later calls still recorded — NATS", async () => {
  const reply = await overNats("jobs_tool", NUL_BODY, "nul-nats");
  assert.ok(!reply.ok && reply.error.code === "not_found", JSON.stringify(reply));
  const row = await stored("nul-nats");
  assert.equal([row.tool, row.status, row.params], ["jobs_tool", "not_found", { a: "\\u0000" }]);
  await laterCallIsRecorded("nats");
});

test("NUL in params of an unknown tool — HTTP", async () => {
  const { status, reply } = await overHttp(NUL_BODY, "nul-http");
  assert.is(status, 404, JSON.stringify(reply));
  const row = await stored("nul-http");
  assert.equal([row.tool, row.status, row.params], ["x", "not_found", { a: "\\u0000" }]);
  await laterCallIsRecorded("http");
});

test("a 511-character note ending in an emoji is cut on a code-point boundary — NATS and HTTP", async () => {
  const body = JSON.stringify({ tool: "x", action: "y", params: { note: NOTE }, agent_id: "sofiia" });
  await overNats("jobs_tool", body, "note-nats");
  await overHttp(body, "note-http");
  for (const id of ["note-nats", "note-http"]) {
    const note = String((await stored(id)).params.note);
    assert.ok(note.startsWith("n".repeat(511)) && !note.includes("\ud83d"), note.slice(500));
  }
  await laterCallIsRecorded("nats");
  await laterCallIsRecorded("http");
});

test('agent_id "constructor" gets the default role and is audited — NATS and HTTP', async () => {
  const body = JSON.stringify({ tool: "jobs_tool", action: "list_runs", params: { limit: 1 }, agent_id: "constructor" });
  await overNats("jobs_tool", body, "ctor-nats");
  await overHttp(body, "ctor-http");
  const defaultRole = s.running.ctx.policies.rbac.default_role;
  for (const id of ["ctor-nats", "ctor-http"]) {
    const row = await stored(id);
    assert.equal([row.agent_id, row.role], ["constructor", defaultRole]);
  }
  await laterCallIsRecorded("nats");
  await laterCallIsRecorded("http");
});

test("__proto__ as agent_id and as a params key, a lone surrogate in the action: audited", async () => {
  await overNats("jobs_tool", JSON.stringify({ action: "list_runs", params: JSON.parse('{"__proto__":{"p":1}}'), agent_id: "__proto__" }), "proto-nats");
  const row = await stored("proto-nats");
  assert.equal([row.agent_id, row.role, row.params], ["__proto__", s.running.ctx.policies.rbac.default_role, JSON.parse('{"__proto__":{"p":1}}')]);
  await overNats("jobs_tool", JSON.stringify({ action: "y\udc00", params: {} }), "surrogate-nats");
  assert.is((await stored("surrogate-nats")).status, "not_found");
  await laterCallIsRecorded("nats");
  assert.not.match(s.logs.text(), /audit flush failed/, "no append failed on the way");
});

test.run();
