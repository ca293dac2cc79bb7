/** The tool API over a real nats-server: services-API endpoints, error headers, discovery, load sharing. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@nats-io/transport-node";
import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { ServiceErrorCodeHeader, ServiceErrorHeader, Svcm, type ServiceInfo } from "@nats-io/services";
import { AuditWriter, startToolService, type ToolService } from "../../src/gateway/index.js";
import { actionsFromMetadata } from "../../src/gateway/jsonSchema.js";
import { SERVICE_NAME, subjects as makeSubjects, type ToolReply } from "../../src/subjects/index.js";
import { createAuditTool } from "../../src/tools/audit-tool.js";
import { toolRegistry } from "../../src/tools/types.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { waitFor } from "../harness/wait.js";
import { capturedLogger, FakeAuditStore, loadShippedPolicies } from "../unit/gateway-fixtures.js";

const subjects = makeSubjects();
const AUDIT_SUBJECT = subjects.tools.of("audit_tool");
const KEYS = new Map([["k-sofiia", "sofiia"], ["k-helion", "helion"]]);

let server: NatsServerHandle;
let nc: NatsConnection;
let store: FakeAuditStore;
const writers: AuditWriter[] = [];
const services: ToolService[] = [];

async function startGateway(nodeId: string): Promise<void> {
  const { logger } = capturedLogger();
  const writer = new AuditWriter(store, logger, { flushIntervalMs: 10 });
  writers.push(writer);
  services.push(
    await startToolService({
      registry: toolRegistry([createAuditTool({ audit: store, retentionDays: 90 })]),
      policies: loadShippedPolicies(),
      opsEnv: "prod",
      apiKeys: KEYS,
      audit: writer,
      logger,
      nodeId,
      nc,
      subjects,
      version: "0.0.0-test",
    }),
  );
}

function request(body: unknown, key?: string, subject = AUDIT_SUBJECT): Promise<Msg> {
  const h = natsHeaders();
  if (key) h.set("Authorization", `Bearer ${key}`);
  const data = body instanceof Uint8Array || typeof body === "string" ? body : JSON.stringify(body);
  return nc.request(subject, data, { timeout: 5000, headers: h });
}

const replyOf = (m: Msg) => m.json<ToolReply>();

test.before(async () => {
  server = await startNatsServer({ jetstream: false });
  nc = await connect({ servers: server.url });
  store = new FakeAuditStore();
  await startGateway("gw-1");
});

test.after(async () => {
  for (const s of services) await s.stop();
  for (const w of writers) await w.close();
  await nc?.close();
  await server?.cleanup();
});

test("a call over ops.tools.<tool> replies {ok:true} without error headers", async () => {
  const m = await request({ action: "query", params: { limit: 5 } }, "k-helion");
  const reply = replyOf(m);
  assert.ok(reply.ok, JSON.stringify(reply));
  assert.not.ok(m.headers?.has(ServiceErrorCodeHeader));
});

test("errors carry the envelope and the services-API error headers", async () => {
  const cases: Array<[unknown, string | undefined, string, string]> = [
    [{ action: "query", params: {} }, undefined, "unauthenticated", "401"],
    [{ action: "query", params: {} }, "k-nobody", "unauthenticated", "401"],
    [{ action: "query", params: {}, agent_id: "sofiia" }, "k-helion", "forbidden", "403"],
    [{ action: "cleanup", params: {} }, "k-helion", "forbidden", "403"],
    [{ action: "frobnicate", params: {} }, "k-helion", "not_found", "404"],
    [{ action: "query", params: { limit: "ten" } }, "k-helion", "invalid_request", "400"],
  ];
  for (const [body, key, code, status] of cases) {
    const m = await request(body, key);
    const reply = replyOf(m);
    assert.ok(!reply.ok && reply.error.code === code, `${code}: ${JSON.stringify(reply)}`);
    assert.is(m.headers?.get(ServiceErrorCodeHeader), status, code);
    assert.is(m.headers?.get(ServiceErrorHeader), reply.error.message);
  }
  const denied = replyOf(await request({ action: "cleanup", params: {} }, "k-helion"));
  assert.ok(!denied.ok && denied.error.message.includes("tools.audit.admin"));
});

test("an oversize payload is payload_too_large (413); garbage bytes are invalid_request (400); the service still answers", async () => {
  const big = JSON.stringify({ action: "query", params: { pad: "x".repeat(300 * 1024) } });
  const tooBig = await request(big, "k-helion");
  assert.is(tooBig.headers?.get(ServiceErrorCodeHeader), "413");
  const r1 = replyOf(tooBig);
  assert.ok(!r1.ok && r1.error.code === "payload_too_large");

  const garbage = await request(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]), "k-helion");
  assert.is(garbage.headers?.get(ServiceErrorCodeHeader), "400");
  const r2 = replyOf(garbage);
  assert.ok(!r2.ok && r2.error.code === "invalid_request");

  const after = replyOf(await request({ action: "query", params: {} }, "k-sofiia"));
  assert.ok(after.ok, JSON.stringify(after));
});

test("every call over NATS is audited with channel nats and the gateway's node id", async () => {
  const before = store.records.length;
  await request({ action: "query", params: { password: "hunter2" } }, "k-sofiia");
  const rec = await waitFor(() => store.records.slice(before).find((r) => r.agent_id === "sofiia" && r.status === "invalid_request"), {
    message: "the audit record",
  });
  assert.equal([rec.channel, rec.node_id, rec.decision, rec.params.password], ["nats", "gw-1", "allow", "***"]);
});

test("$SRV.INFO lists one endpoint per tool with action metadata and parseable JSON Schemas", async () => {
  const infos: ServiceInfo[] = [];
  for await (const info of await new Svcm(nc).client().info(SERVICE_NAME)) infos.push(info);
  const info = infos[0];
  assert.ok(info, "the service answers INFO");
  const endpoint = info.endpoints.find((e) => e.name === "audit_tool");
  assert.ok(endpoint);
  assert.is(endpoint.subject, AUDIT_SUBJECT);
  assert.ok(endpoint.queue_group, "endpoints share a queue group");
  const actions = actionsFromMetadata(endpoint.metadata) as Record<string, { entitlement: string; params: { type: string; properties: Record<string, unknown> } }>;
  assert.equal(Object.keys(actions).sort(), ["cleanup", "export", "query"]);
  assert.is(actions.query?.entitlement, "tools.audit.read");
  assert.is(actions.cleanup?.entitlement, "tools.audit.admin");
  assert.is(actions.query?.params.type, "object");
  assert.ok("since" in (actions.query?.params.properties ?? {}));
});

test("two gateway processes share the load through the queue group", async () => {
  await startGateway("gw-2");
  const before = store.records.length;
  await Promise.all(Array.from({ length: 40 }, () => request({ action: "query", params: { limit: 1 } }, "k-helion")));
  const nodes = await waitFor(() => {
    const recent = store.records.slice(before);
    return recent.length >= 40 ? new Set(recent.map((r) => r.node_id)) : undefined;
  }, { message: "40 audit records" });
  assert.equal([...nodes].sort(), ["gw-1", "gw-2"]);
});

test("after stop, nothing answers on the tool subject or the service's PING", async () => {
  for (const s of services.splice(0)) await s.stop();
  const err = await request({ action: "query", params: {} }, "k-helion").then(
    () => undefined,
    (e: Error) => e,
  );
  assert.match(String(err?.message), /no responders/i);
  const ping: unknown[] = [];
  try {
    for await (const p of await new Svcm(nc).client({ strategy: "timer", maxWait: 300 }).ping(SERVICE_NAME)) ping.push(p);
  } catch (e) {
    assert.match(String((e as Error).message), /no responders/i);
  }
  assert.is(ping.length, 0);
});

test.run();
