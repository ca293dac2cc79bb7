/**
 * `oncall_tool.incident_ack` / `incident_unack` through the whole gateway path (auth, RBAC with the
 * shipped matrix, audit): who may, what the store and timeline get, the events published (once,
 * keyed by the ack time), idempotence, a closed incident refused, unknown and malformed ids.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { ToolLimits } from "../../src/config/policies.js";
import { AuditWriter, executeTool, type GatewayDeps } from "../../src/gateway/index.js";
import type { IncidentEvent, IncidentRecord } from "../../src/incidents/store.js";
import { EventPublisher } from "../../src/nats/events.js";
import { IncidentAckData, subjects } from "../../src/subjects/index.js";
import { createOncallTool } from "../../src/tools/oncall-tool.js";
import { toolRegistry } from "../../src/tools/types.js";
import { capturedLogger, errorOf, FakeAuditStore, loadShippedPolicies, resultOf } from "./gateway-fixtures.js";
import { MemoryIncidentStore, tmpDir } from "./incident-fixtures.js";

const policies = loadShippedPolicies();

function setup() {
  const store = new MemoryIncidentStore();
  const published: Array<{ subject: string; msgID?: string; data: Record<string, unknown> }> = [];
  const js = {
    async publish(subject: string, body: Uint8Array, opts?: { msgID?: string }) {
      published.push({ subject, ...(opts?.msgID ? { msgID: opts.msgID } : {}), data: JSON.parse(new TextDecoder().decode(body)).data });
      return { seq: published.length, duplicate: false, stream: "OPS_EVENTS" };
    },
  };
  const clock = { ms: Date.parse("2026-03-10T12:00:00.000Z") };
  const now = () => new Date(clock.ms);
  const tool = createOncallTool({
    incidents: store,
    artifactsDir: tmpDir("ack-artifacts"),
    events: new EventPublisher(js as unknown as JetStreamClient, subjects(), "n1", now),
    alertToIncident: async () => {
      throw new Error("not used");
    },
  });
  const { logger } = capturedLogger();
  const audits = new FakeAuditStore();
  const writer = new AuditWriter(audits, logger);
  const deps: GatewayDeps = {
    registry: toolRegistry([tool]),
    policies: { ...policies, toolLimits: ToolLimits.parse({ defaults: { rate_per_minute: 1_000_000, burst: 1_000_000 } }) },
    opsEnv: "dev",
    apiKeys: new Map(),
    audit: writer,
    logger,
    nodeId: "n1",
    now,
  };
  const call = (agent_id: string, action: string, params: Record<string, unknown> = {}) =>
    executeTool(deps, { tool: "oncall_tool", channel: "nats", body: { action, params, agent_id } });
  const audited = async () => {
    await writer.flush();
    return audits.records;
  };
  const open = async () => store.create({ service: "checkout", env: "prod", severity: "P1", title: "checkout 5xx", created_by: "sofiia" }, now());
  return { store, published, clock, call, audited, open };
}

type AckReply = { incident: IncidentRecord; changed: boolean; event?: IncidentEvent };

test("incident_ack: acknowledged by the caller with a timeline event, incident.acknowledged published once, audited", async () => {
  const { call, open, published, store, clock, audited } = setup();
  const inc = await open();
  clock.ms += 60_000;
  const r = resultOf<AckReply>(await call("helion", "incident_ack", { incident_id: inc.id, note: "on it" }));
  const at = "2026-03-10T12:01:00.000Z";
  assert.equal([r.changed, r.incident.acknowledged_by, r.incident.acknowledged_at, r.event?.type, r.event?.message], [true, "helion", at, "acknowledged", "acknowledged by helion: on it"]);
  assert.equal((await store.get(inc.id))?.acknowledged_by, "helion");
  assert.is(published.length, 1);
  const ev = published[0]!;
  assert.equal([ev.subject, ev.msgID], ["ops.events.incident.acknowledged", `incident.acknowledged:ack:${inc.id}@${at}`]);
  assert.equal(ev.data, { incident_id: inc.id, service: "checkout", env: "prod", severity: "P1", status: "open", title: "checkout 5xx", by: "helion", note: "on it", acknowledged_at: at });
  assert.ok(IncidentAckData.safeParse(ev.data).success);

  clock.ms += 60_000;
  const again = resultOf<AckReply>(await call("sofiia", "incident_ack", { incident_id: inc.id }));
  assert.equal([again.changed, again.incident.acknowledged_by, "event" in again], [false, "helion", false]);
  assert.is(published.length, 1, "acknowledging an acknowledged incident publishes nothing");

  const records = (await audited()).filter((a) => a.action === "incident_ack");
  assert.equal(records.map((a) => [a.agent_id, a.role, a.decision, a.status, a.params.incident_id]), [
    ["helion", "agent_oncall", "allow", "ok", inc.id],
    ["sofiia", "agent_cto", "allow", "ok", inc.id],
  ]);
});

test("incident_unack: clears it, incident.unacknowledged keyed by its time; a no-op when not acknowledged", async () => {
  const { call, open, published, clock } = setup();
  const inc = await open();
  const none = resultOf<AckReply>(await call("helion", "incident_unack", { incident_id: inc.id }));
  assert.equal([none.changed, published.length], [false, 0]);
  await call("helion", "incident_ack", { incident_id: inc.id });
  clock.ms += 5 * 60_000;
  const un = resultOf<AckReply>(await call("sofiia", "incident_unack", { incident_id: inc.id, note: "handing over" }));
  assert.equal([un.changed, "acknowledged_at" in un.incident, un.event?.type], [true, false, "unacknowledged"]);
  const ev = published.at(-1)!;
  assert.equal([ev.subject, ev.msgID], ["ops.events.incident.unacknowledged", `incident.unacknowledged:unack:${inc.id}@2026-03-10T12:05:00.000Z`]);
  assert.equal([ev.data.by, ev.data.acknowledged_at, ev.data.unacknowledged_at, ev.data.note], ["sofiia", "2026-03-10T12:00:00.000Z", "2026-03-10T12:05:00.000Z", "handing over"]);
  assert.ok(IncidentAckData.safeParse(ev.data).success);
  const re = resultOf<AckReply>(await call("helion", "incident_ack", { incident_id: inc.id }));
  assert.is(re.changed, true, "acknowledged again after an unack");
  assert.is(published.filter((p) => p.subject.endsWith(".acknowledged")).length, 2);
});

test("RBAC: tools.incidents.write; readers refused (forbidden) and audited as denied", async () => {
  const { call, open, store, audited } = setup();
  const inc = await open();
  for (const agent of ["aistalk", "monitor", "someone"]) {
    for (const action of ["incident_ack", "incident_unack"]) {
      const e = errorOf(await call(agent, action, { incident_id: inc.id }));
      assert.equal([e.code, /tools\.incidents\.write/.test(e.message)], ["forbidden", true], `${agent} ${action}`);
    }
  }
  assert.is((await store.get(inc.id))?.acknowledged_at, undefined);
  const denied = (await audited()).filter((a) => a.decision === "deny");
  assert.is(denied.length, 6);
  assert.ok(denied.every((a) => a.status === "forbidden" && a.tool === "oncall_tool"));
});

test("a closed incident is refused (invalid_request naming it closed); unknown and malformed ids; bad params", async () => {
  const { call, open, store, published } = setup();
  const inc = await open();
  await store.setStatus(inc.id, "closed", { by: "sofiia", resolution: "fixed" }, new Date("2026-03-10T12:00:30Z"));
  for (const action of ["incident_ack", "incident_unack"]) {
    const e = errorOf(await call("helion", action, { incident_id: inc.id }));
    assert.equal([e.code, /closed/.test(e.message)], ["invalid_request", true], action);
    assert.is(errorOf(await call("helion", action, { incident_id: "inc_20260310_1200_000000" })).code, "not_found", action);
    assert.is(errorOf(await call("helion", action, { incident_id: "inc_1" })).code, "invalid_request", action);
    assert.is(errorOf(await call("helion", action, { incident_id: inc.id, note: "x".repeat(2001) })).code, "invalid_request", action);
    assert.is(errorOf(await call("helion", action, { incident_id: inc.id, extra: 1 })).code, "invalid_request", action);
  }
  assert.is(published.length, 0);
});

test("a reopen clears the ack: the incident asks for attention again", async () => {
  const { call, open, store } = setup();
  const inc = await open();
  await call("helion", "incident_ack", { incident_id: inc.id });
  await store.setStatus(inc.id, "closed", { by: "helion" }, new Date("2026-03-10T12:10:00Z"));
  await store.setStatus(inc.id, "open", { by: "helion" }, new Date("2026-03-10T12:11:00Z"));
  const got = resultOf<{ incident: IncidentRecord }>(await call("helion", "incident_get", { incident_id: inc.id, include_events: false }));
  assert.is(got.incident.acknowledged_at, undefined);
  assert.ok(resultOf<AckReply>(await call("helion", "incident_ack", { incident_id: inc.id })).changed);
});

test.run();
