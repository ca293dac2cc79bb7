/** A misspelt entitlement (RBAC) or tool name (tool limits) refuses start-up, naming file, path and what is allowed. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/config/errors.js";
import { checkPoliciesAgainstTools, loadPolicies, type ToolCatalog } from "../../src/config/load.js";

const catalog: ToolCatalog = new Map<string, { actions: Record<string, { entitlement: string }> }>([
  ["alert_ingest_tool", { actions: { ingest: { entitlement: "tools.alerts.ingest" }, list: { entitlement: "tools.alerts.read" } } }],
  ["oncall_tool", { actions: { incident_get: { entitlement: "tools.incidents.read" } } }],
]);
const base = () => ({
  rbac: { roles: { agent_oncall: { entitlements: ["tools.alerts.read", "tools.incidents.read"] } }, agents: {}, default_role: "agent_oncall" },
  toolLimits: { defaults: { max_payload_bytes: 1024, timeout_ms: 100, rate_per_minute: 1, burst: 1 }, tools: { oncall_tool: { timeout_ms: 500 } }, agents: {} },
});

function refusal(fn: () => void): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

test("names that exist pass", () => {
  checkPoliciesAgainstTools(base(), catalog, "cfg");
});

test("a misspelt entitlement in the RBAC matrix is refused with its path, a suggestion and the allowed values", () => {
  const p = base();
  p.rbac.roles.agent_oncall.entitlements.push("tools.incident.read");
  const err = refusal(() => checkPoliciesAgainstTools(p, catalog, "cfg"));
  assert.is(err.file, "cfg/rbac_tools_matrix.yml");
  assert.match(err.message, /at roles\.agent_oncall\.entitlements\.2: got "tools\.incident\.read", not a known entitlement \(did you mean "tools\.incidents\.read"\?\); allowed: tools\.alerts\.ingest, tools\.alerts\.read, tools\.incidents\.read/);
});

test("an unknown tool in tool_limits is refused with the known tool names", () => {
  const p = base();
  (p.toolLimits.tools as Record<string, { timeout_ms: number }>).oncal_tool = { timeout_ms: 1 };
  const err = refusal(() => checkPoliciesAgainstTools(p, catalog, "cfg"));
  assert.is(err.file, "cfg/tool_limits.yml");
  assert.match(err.message, /at tools\.oncal_tool: got "oncal_tool", not a known tool \(did you mean "oncall_tool"\?\); allowed: alert_ingest_tool, oncall_tool/);
});

test.run();
