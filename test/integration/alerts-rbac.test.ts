/**
 * RBAC for alert_ingest_tool, generated from config/rbac_tools_matrix.yml and the tool's own action
 * list (so a new action or role cannot escape the test), in prod where keys are mandatory.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { headers } from "@nats-io/nats-core";
import { loadPolicies } from "../../src/config/load.js";
import { createAlertIngestTool, type AlertToolDeps } from "../../src/tools/alert-ingest-tool.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const rbac = loadPolicies("config").rbac;
const tool = createAlertIngestTool({ policy: loadPolicies("config").alertRouting } as unknown as AlertToolDeps);

/** One agent (and key) per role; a role no agent maps to is reached through an unmapped agent. */
const agentOfRole = new Map<string, string>();
for (const [agent, role] of Object.entries(rbac.agents)) if (!agentOfRole.has(role)) agentOfRole.set(role, agent);
for (const role of Object.keys(rbac.roles)) if (!agentOfRole.has(role) && role === rbac.default_role) agentOfRole.set(role, "stranger");
const keyOf = (agent: string) => `key-${agent}-0123456789`;

const PARAMS: Record<string, Record<string, unknown>> = {
  ingest: { service: "rbac", title: "rbac probe", kind: "custom" },
  list: {},
  claim: { limit: 1 },
  ack: { alert_ref: "alrt_missing" },
  fail: { alert_ref: "alrt_missing", error: "probe" },
  dashboard: {},
  retention: { older_than_days: 3650 },
  resolve: { alert_ref: "alrt_missing" },
};

let s: Stack;
let denied = 0;
test.before(async () => {
  const keys = [...agentOfRole.values()].map((a) => `${a}=${keyOf(a)}`).join(",");
  // memory stores are refused in prod, as they should be: JSONL under the stack's temp dir.
  s = await startStack({ env: { OPS_ENV: "prod", OPSBUS_API_KEYS: keys } });
});
test.after(async () => s.stop());

test("every role × every alert_ingest_tool action matches the matrix", async () => {
  assert.equal(Object.keys(PARAMS).sort(), Object.keys(tool.actions).sort(), "every action has probe params");
  for (const [role, agent] of agentOfRole) {
    const entitlements = new Set(rbac.roles[role]!.entitlements);
    for (const [name, def] of Object.entries(tool.actions)) {
      const r = await s.call("alert_ingest_tool", name, PARAMS[name], { agent, key: keyOf(agent) });
      const allowed = entitlements.has(def.entitlement);
      const code = r.ok ? "ok" : r.error.code;
      if (allowed) assert.is.not(code, "forbidden", `${role} (${agent}) should be allowed ${name}`);
      else {
        assert.is(code, "forbidden", `${role} (${agent}) must be refused ${name} (needs ${def.entitlement})`);
        denied++;
      }
    }
  }
  assert.ok(denied > 0, "the matrix refuses something");
});

test("prod refuses a missing key, an unknown key and a body agent_id that differs from the key's agent", async () => {
  const none = await s.call("alert_ingest_tool", "list", {}, { agent: "sofiia" });
  const unknown = await s.call("alert_ingest_tool", "list", {}, { agent: "sofiia", key: "not-a-key" });
  const mismatch = await s.call("alert_ingest_tool", "list", {}, { agent: "sofiia", key: keyOf("monitor") });
  assert.equal([none, unknown, mismatch].map((r) => (r.ok ? "ok" : r.error.code)), ["unauthenticated", "unauthenticated", "forbidden"]);
  denied += 3;
});

test("every denied call is in the audit log", async () => {
  const audit = s.running.ctx.stores.audit;
  const rows = await waitFor(async () => {
    const r = await audit.query({ decision: "deny", limit: 10_000 });
    return r.length >= denied ? r : null;
  }, { message: `${denied} deny records` });
  assert.is(rows.length, denied);
  assert.ok(rows.every((r) => r.tool === "alert_ingest_tool" && r.status !== "ok"));
  const text = JSON.stringify(rows);
  for (const agent of agentOfRole.values()) assert.not.ok(text.includes(keyOf(agent)), "keys never reach the audit log");
});

test("oversize and malformed payloads get payload_too_large / invalid_request, and the gateway keeps serving", async () => {
  const subject = s.running.ctx.subjects.tools.of("alert_ingest_tool");
  const h = headers();
  h.set("Authorization", `Bearer ${keyOf("sofiia")}`);
  const big = JSON.stringify({ action: "list", params: { pad: "x".repeat(300 * 1024) } });
  const codes: string[] = [];
  for (const body of [big, "\u0000\u00ff{{", "[1,2,3]", JSON.stringify({ action: "list", params: { limit: "many" } })]) {
    const r = (await s.client.request(subject, body, { timeout: 5000, headers: h })).json<{ ok: boolean; error?: { code: string } }>();
    codes.push(r.error?.code ?? "ok");
  }
  assert.equal(codes, ["payload_too_large", "invalid_request", "invalid_request", "invalid_request"]);
  const after = await s.call("alert_ingest_tool", "list", {}, { agent: "sofiia", key: keyOf("sofiia") });
  assert.ok(after.ok);
});

test.run();
