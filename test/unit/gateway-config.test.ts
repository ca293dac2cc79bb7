import { test } from "uvu";
import * as assert from "uvu/assert";
import { entitlementsOf, limitsFor, roleOf } from "../../src/gateway/index.js";
import { loadShippedPolicies } from "./gateway-fixtures.js";

const policies = loadShippedPolicies();
const { rbac, toolLimits, dataGovernance } = policies;
const can = (agent: string, entitlement: string) => entitlementsOf(rbac, roleOf(rbac, agent)).has(entitlement);

test("the runbooks' agents map to their roles; anyone else gets agent_default", () => {
  assert.equal(
    ["sofiia", "helion", "monitor", "aistalk", "scheduler", "someone"].map((a) => roleOf(rbac, a)),
    ["agent_cto", "agent_oncall", "agent_monitor", "agent_interface", "svc_scheduler", "agent_default"],
  );
});

test("entitlements follow the runbooks", () => {
  assert.ok(can("monitor", "tools.alerts.ingest"));
  assert.not.ok(can("monitor", "tools.alerts.claim"), "only cto/oncall claim");
  assert.ok(can("helion", "tools.alerts.claim") && can("sofiia", "tools.alerts.claim"));
  assert.ok(can("helion", "tools.incidents.write") && can("sofiia", "tools.incidents.write"));
  for (const agent of ["monitor", "aistalk", "someone"]) assert.not.ok(can(agent, "tools.incidents.write"), agent);
  assert.ok(can("aistalk", "tools.incidents.read") && can("someone", "tools.incidents.read"));
  assert.ok(can("scheduler", "tools.backlog.admin") && can("scheduler", "tools.risk.write") && can("scheduler", "tools.audit.admin"));
  assert.not.ok(can("scheduler", "tools.release.bypass"));
  assert.ok(can("sofiia", "tools.release.bypass"));
  assert.not.ok(can("helion", "tools.audit.admin"));
  assert.ok(can("helion", "tools.audit.read"));
  // Silences mute pages: on-call and the CTO set and expire them, everyone else only looks.
  assert.ok(can("helion", "tools.silences.write") && can("sofiia", "tools.silences.write"));
  for (const agent of ["monitor", "aistalk", "someone", "scheduler"]) assert.not.ok(can(agent, "tools.silences.write"), agent);
  for (const agent of ["helion", "sofiia", "monitor", "aistalk", "someone"]) assert.ok(can(agent, "tools.silences.read"), agent);
});

test("tool limits: 256 KiB / 10 s / 600 per min by default; ingest and the monitor agent allow batches", () => {
  assert.equal(limitsFor(toolLimits, "oncall_tool", "helion"), { max_payload_bytes: 262144, timeout_ms: 10000, rate_per_minute: 600, burst: 60 });
  const ingest = limitsFor(toolLimits, "alert_ingest_tool", "helion");
  assert.ok(ingest.rate_per_minute >= 60000 && ingest.burst >= 5000);
  assert.ok(limitsFor(toolLimits, "alert_ingest_tool", "monitor").burst >= ingest.burst);
});

test("data governance: 90 days of audit, 30 of alerts, secret keys redacted", () => {
  assert.equal(dataGovernance.retention, { audit_days: 90, alerts_days: 30 });
  for (const k of ["password", "token", "secret", "authorization"]) assert.ok(dataGovernance.redact_param_keys.includes(k), k);
});

test.run();
