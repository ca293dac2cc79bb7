/** POST /v1/tools/execute is the NATS tool API over HTTP: same executeTool, same replies, same audit (channel aside). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { ERROR_CODES } from "../../src/errors.js";
import { statusOf } from "../../src/http/status.js";
import type { AuditRecord } from "../../src/audit/store.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let base: string;

test.before(async () => {
  const port = await freePort();
  s = await startStack({
    roles: ["gateway"],
    env: { OPS_ENV: "prod", OPSBUS_API_KEYS: "sofiia=k-sofiia,helion=k-helion,aistalk=k-aistalk", HTTP_PORT: String(port) },
    // aistalk gets a tiny rate so the shared limiter shows across channels.
    policies: { toolLimits: { agents: { aistalk: { rate_per_minute: 1, burst: 2 } } } },
  });
  base = `http://127.0.0.1:${port}`;
});
test.after(async () => s.stop());

async function http(body: unknown, key?: string, extra: Record<string, string> = {}): Promise<{ status: number; reply: ToolReply; headers: Headers }> {
  const res = await fetch(`${base}/v1/tools/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, reply: (await res.json()) as ToolReply, headers: res.headers };
}

async function nats(tool: string, body: unknown, key?: string, requestId?: string): Promise<ToolReply> {
  const h = natsHeaders();
  if (key) h.set("Authorization", `Bearer ${key}`);
  if (requestId) h.set("X-Request-Id", requestId);
  return (await s.client.request(s.running.ctx.subjects.tools.of(tool), JSON.stringify(body), { timeout: 10_000, headers: h })).json<ToolReply>();
}

const auditOf = (requestId: string) =>
  waitFor(async () => (await s.running.ctx.stores.audit.query({ limit: 10_000 })).find((r) => r.request_id === requestId), { message: `audit record ${requestId}` });

const comparable = (r: AuditRecord) => {
  const { id: _id, ts: _ts, duration_ms: _d, channel: _c, request_id: _r, ...rest } = r;
  return rest;
};

test("the same call over NATS and HTTP: same reply, same audit record except channel", async () => {
  const ingest = await nats("alert_ingest_tool", { action: "ingest", params: { service: "pay", title: "errors up", kind: "error_rate", fingerprint: "fp-http" } }, "k-helion");
  assert.ok(ingest.ok, JSON.stringify(ingest));
  const envelope = { action: "list", params: { fingerprint: "fp-http" } };
  const overNats = await nats("alert_ingest_tool", envelope, "k-helion", "req-nats-1");
  const overHttp = await http({ tool: "alert_ingest_tool", ...envelope }, "k-helion", { "x-request-id": "req-http-1" });
  assert.is(overHttp.status, 200);
  assert.equal(overHttp.reply, overNats);
  assert.is((overHttp.reply as { result: { count: number } }).result.count, 1);
  assert.is(overHttp.headers.get("x-request-id"), "req-http-1");

  const [a, b] = [await auditOf("req-nats-1"), await auditOf("req-http-1")];
  assert.equal([a.channel, b.channel], ["nats", "http"]);
  assert.equal(comparable(b), comparable(a));
  assert.equal([b.agent_id, b.role, b.tool, b.action, b.decision, b.status], ["helion", "agent_oncall", "alert_ingest_tool", "list", "allow", "ok"]);
});

test("prod: a call without a key is 401 unauthenticated, and audited as a denied http call", async () => {
  const r = await http({ tool: "alert_ingest_tool", action: "list", params: {}, agent_id: "sofiia" }, undefined, { "x-request-id": "req-nokey" });
  assert.is(r.status, 401);
  assert.ok(!r.reply.ok && r.reply.error.code === "unauthenticated", JSON.stringify(r.reply));
  const rec = await auditOf("req-nokey");
  assert.equal([rec.channel, rec.decision, rec.status, rec.tool], ["http", "deny", "unauthenticated", "alert_ingest_tool"]);
});

test("HTTP status follows the error code; the body is the NATS envelope", async () => {
  const cases: Array<[unknown, string | undefined, number, string]> = [
    [{ tool: "audit_tool", action: "query", params: {} }, "k-nobody", 401, "unauthenticated"],
    [{ tool: "audit_tool", action: "cleanup", params: {} }, "k-helion", 403, "forbidden"],
    [{ tool: "audit_tool", action: "frobnicate", params: {} }, "k-helion", 404, "not_found"],
    [{ tool: "no_such_tool", action: "x", params: {} }, "k-helion", 404, "not_found"],
    [{ tool: "audit_tool", action: "query", params: { limit: "ten" } }, "k-helion", 400, "invalid_request"],
    ["{not json", "k-helion", 400, "invalid_request"],
    [{ tool: "audit_tool", action: "query", params: { pad: "x".repeat(300 * 1024) } }, "k-helion", 413, "payload_too_large"],
  ];
  for (const [body, key, status, code] of cases) {
    const r = await http(body, key);
    assert.is(r.status, status, `${code}: ${JSON.stringify(r.reply).slice(0, 200)}`);
    assert.ok(!r.reply.ok && r.reply.error.code === code, code);
  }
  // The error envelope is the one NATS answers, message included.
  const overNats = await nats("audit_tool", { action: "cleanup", params: {} }, "k-helion");
  const overHttp = await http({ tool: "audit_tool", action: "cleanup", params: {} }, "k-helion");
  assert.equal(overHttp.reply, overNats);
  // Every code has its status, as the runbook's clients expect.
  const expected = { invalid_request: 400, unauthenticated: 401, forbidden: 403, not_found: 404, conflict: 409, payload_too_large: 413, rate_limited: 429, unavailable: 503, internal: 500 };
  for (const code of ERROR_CODES) assert.is(statusOf({ ok: false, error: { code, message: "" } }), expected[code], code);
});

test("an oversize body is refused without being parsed, and the service answers afterwards", async () => {
  const huge = "x".repeat(2 * 1024 * 1024);
  const r = await http(`{"tool":"audit_tool","action":"query","params":{"pad":"${huge}"}}`, "k-helion", { "x-request-id": "req-huge" });
  assert.is(r.status, 413);
  const rec = await auditOf("req-huge");
  assert.equal([rec.channel, rec.status], ["http", "payload_too_large"]);
  assert.is((await http({ tool: "audit_tool", action: "query", params: { limit: 1 } }, "k-helion")).status, 200);
});

test("an alert refused by ingest (accepted:false) is 422 with its reasons, not 200; the body is the NATS envelope", async () => {
  const envelope = { action: "ingest", params: { service: "pay", severity: "urgent" } };
  const overHttp = await http({ tool: "alert_ingest_tool", ...envelope }, "k-helion");
  assert.is(overHttp.status, 422, JSON.stringify(overHttp.reply));
  const result = (overHttp.reply as { ok: true; result: { accepted: boolean; reasons: string[] } }).result;
  assert.is(result.accepted, false);
  assert.ok(result.reasons.length >= 1 && result.reasons.some((r) => /title/.test(r)), JSON.stringify(result.reasons));
  assert.equal(overHttp.reply, await nats("alert_ingest_tool", envelope, "k-helion"));
  // Accepted stays 200, and the one status table says so.
  const ok = await http({ tool: "alert_ingest_tool", action: "ingest", params: { service: "pay", title: "refused then fixed", kind: "error_rate" } }, "k-helion");
  assert.is(ok.status, 200, JSON.stringify(ok.reply));
  assert.is(statusOf({ ok: true, result: { accepted: false, reasons: ["x"] } }), 422);
  assert.is(statusOf({ ok: true, result: { accepted: true } }), 200);
  assert.is(statusOf({ ok: true, result: [{ accepted: false }] }), 200);
});

test("one rate limit per agent across NATS and HTTP: 429 with Retry-After", async () => {
  const envelope = { action: "status", params: {} };
  assert.ok((await nats("monitor_tool", envelope, "k-aistalk")).ok);
  assert.is((await http({ tool: "monitor_tool", ...envelope }, "k-aistalk")).status, 200);
  const limited = await http({ tool: "monitor_tool", ...envelope }, "k-aistalk");
  assert.is(limited.status, 429);
  assert.ok(!limited.reply.ok && limited.reply.error.code === "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
});

test("/healthz answers ops.health's report (503 when not ok); unknown routes are 404, wrong methods 405", async () => {
  const res = await fetch(`${base}/healthz`);
  const overHttp = (await res.json()) as Record<string, unknown>;
  const overNats = (await s.client.request(s.running.ctx.subjects.tools.health, "", { timeout: 5000 })).json<Record<string, unknown>>();
  // Alerts ingested above wait for a triage worker this stack does not run, which health may report.
  assert.is(res.status, overHttp.ok === true ? 200 : 503, JSON.stringify(overHttp));
  assert.equal(Object.keys(overHttp).sort(), Object.keys(overNats).sort());
  assert.equal([overHttp.ok, overHttp.node_id, overHttp.env], [overNats.ok, "node1", "prod"]);
  assert.is((await fetch(`${base}/nope`)).status, 404);
  const wrong = await fetch(`${base}/v1/tools/execute`);
  assert.equal([wrong.status, wrong.headers.get("allow")], [405, "POST"]);
});

test.run();
