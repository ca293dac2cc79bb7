import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import type { AuditRecord } from "../../src/audit/store.js";
import { createAuditTool } from "../../src/tools/audit-tool.js";
import { toolRegistry } from "../../src/tools/types.js";
import { AuditWriter, executeTool, type GatewayDeps } from "../../src/gateway/index.js";
import { capturedLogger, errorOf, FakeAuditStore, loadShippedPolicies, resultOf } from "./gateway-fixtures.js";

const NOW = Date.parse("2026-03-02T12:00:00.000Z");
const DAY = 86_400_000;

function seed(store: FakeAuditStore): AuditRecord[] {
  const base = { role: "agent_oncall", tool: "oncall_tool", duration_ms: 2, params: {}, channel: "nats", node_id: "n1" };
  store.records = [
    { ...base, id: "a1", ts: new Date(NOW - 200 * DAY).toISOString(), agent_id: "helion", action: "incident_get", decision: "allow", status: "ok" },
    { ...base, id: "a2", ts: new Date(NOW - 100 * DAY).toISOString(), agent_id: "monitor", action: "incident_close", decision: "deny", status: "forbidden" },
    { ...base, id: "a3", ts: new Date(NOW - 1.5 * DAY).toISOString(), agent_id: "helion", action: "incident_list", decision: "allow", status: "ok" },
    { ...base, id: "a4", ts: new Date(NOW - 1000).toISOString(), agent_id: "sofiia", action: "incident_get", decision: "allow", status: "ok" },
  ];
  return [...store.records];
}

function setup() {
  const store = new FakeAuditStore();
  const seeded = seed(store);
  const policies = loadShippedPolicies();
  const { logger } = capturedLogger();
  const writer = new AuditWriter(new FakeAuditStore(), logger);
  const deps: GatewayDeps = {
    registry: toolRegistry([createAuditTool({ audit: store, retentionDays: policies.dataGovernance.retention.audit_days })]),
    policies,
    opsEnv: "dev",
    apiKeys: new Map(),
    audit: writer,
    logger,
    nodeId: "n1",
    now: () => new Date(NOW),
  };
  const call = (agent_id: string, action: string, params: Record<string, unknown> = {}) =>
    executeTool(deps, { tool: "audit_tool", channel: "nats", body: { action, params, agent_id } });
  return { store, seeded, call };
}

test("query filters by agent, decision, status and window", async () => {
  const { call } = setup();
  const byAgent = resultOf<{ records: AuditRecord[]; count: number }>(await call("helion", "query", { agent_id: "helion" }));
  assert.equal(byAgent.records.map((r) => r.id), ["a1", "a3"]);
  const denied = resultOf<{ records: AuditRecord[] }>(await call("helion", "query", { decision: "deny", status: "forbidden" }));
  assert.equal(denied.records.map((r) => r.id), ["a2"]);
  const recent = resultOf<{ records: AuditRecord[] }>(await call("helion", "query", { since: new Date(NOW - 2 * DAY).toISOString() }));
  assert.equal(recent.records.map((r) => r.id), ["a3", "a4"]);
  assert.is(errorOf(await call("helion", "query", { since: "yesterday" })).code, "invalid_request");
  assert.is(errorOf(await call("helion", "query", { limit: 0 })).code, "invalid_request");
});

test("export returns NDJSON with a matching sha256 and count", async () => {
  const { call, seeded } = setup();
  const out = resultOf<{ ndjson: string; sha256: string; count: number; truncated: boolean }>(await call("sofiia", "export", {}));
  assert.is(out.count, 4);
  assert.is(out.truncated, false);
  assert.equal(out.ndjson.trimEnd().split("\n").map((l) => JSON.parse(l) as AuditRecord), seeded);
  assert.is(out.sha256, createHash("sha256").update(out.ndjson).digest("hex"));
  const page = resultOf<{ count: number; truncated: boolean; next_since: string }>(await call("sofiia", "export", { limit: 2 }));
  assert.equal([page.count, page.truncated], [2, true]);
  assert.ok(page.next_since);
});

test("cleanup defaults to the retention policy (90 days); dry_run only counts", async () => {
  const { call, store } = setup();
  const dry = resultOf<{ would_delete: number; older_than_days: number; cutoff: string }>(await call("sofiia", "cleanup", { dry_run: true }));
  assert.equal([dry.would_delete, dry.older_than_days, dry.cutoff], [2, 90, new Date(NOW - 90 * DAY).toISOString()]);
  assert.is(store.records.length, 4);
  const real = resultOf<{ deleted: number }>(await call("scheduler", "cleanup", {}));
  assert.is(real.deleted, 2);
  assert.equal(store.records.map((r) => r.id), ["a3", "a4"]);
  const narrower = resultOf<{ deleted: number }>(await call("sofiia", "cleanup", { older_than_days: 1 }));
  assert.is(narrower.deleted, 1);
});

test("RBAC: oncall reads but cannot clean up; the default role cannot read the audit log", async () => {
  const { call } = setup();
  resultOf(await call("helion", "query"));
  const denied = errorOf(await call("helion", "cleanup", { dry_run: true }));
  assert.equal([denied.code, (denied.details as { entitlement: string }).entitlement], ["forbidden", "tools.audit.admin"]);
  assert.is(errorOf(await call("someone", "export")).code, "forbidden");
});

test.run();
