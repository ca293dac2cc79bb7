/**
 * Security checks over every tool the gateway serves, generated from config/rbac_tools_matrix.yml
 * and from buildToolRegistry (so a new tool, action or role cannot escape them), in prod where keys
 * are mandatory: the RBAC matrix, refusal without keys, secrets kept out of logs, audit and
 * replies, and per-agent rate limits under a burst.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadPolicies } from "../../src/config/load.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { buildToolRegistry } from "../../src/app/tools.js";
import type { ToolRegistry } from "../../src/tools/types.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const rbac = loadPolicies("config").rbac;
const ROLES = Object.keys(rbac.roles);
/** Entitlements no role grants on purpose (reachable by nobody until a role is given them); none today. */
const UNGRANTED_ON_PURPOSE = new Set<string>();

// One probe agent per role (added to the matrix below), so every role is reached whatever agents
// the shipped config maps; plus an agent the matrix does not know, which must get default_role.
const probeOf = (role: string) => `probe_${role}`;
const STRANGER = "probe_stranger";
const AGENTS = [...ROLES.map(probeOf), STRANGER];
// Recognisable secrets: any of them found in a log line, audit record or reply is a leak.
const keyOf = (agent: string) => `sk-live-${agent}-Q7vX2mZ9`;
const UNKNOWN_KEY = "sk-live-nobody-K3pW8rT1";
const DSN_PASSWORD = "dsnPw-Hx4Lq9Vb";
const PARAM_SECRET = "paramSecret-Jt6Nc2Rf";
const SECRETS = [...AGENTS.map(keyOf), UNKNOWN_KEY, DSN_PASSWORD, PARAM_SECRET];

// Rate-limit probe: a tight limit on one tool, and two agents with a role allowed to use it.
const RATE_TOOL = "audit_tool";
const RATE = { rate_per_minute: 6, burst: 5 };
const BURSTER = "probe_burster";
const BYSTANDER = "probe_bystander";

let s: Stack;
let registry: ToolRegistry;
const replies: ToolReply[] = [];

async function call(tool: string, action: string, params: Record<string, unknown>, o: { agent?: string; key?: string }): Promise<ToolReply> {
  const r = await s.call(tool, action, params, o);
  replies.push(r);
  return r;
}
const codeOf = (r: ToolReply) => (r.ok ? "ok" : r.error.code);
const actionsOf = () => [...registry.values()].flatMap((t) => Object.entries(t.actions).map(([name, def]) => ({ tool: t.name, name, def })));

test.before(async () => {
  const agents = { ...Object.fromEntries(ROLES.map((r) => [probeOf(r), r])), [BURSTER]: "agent_oncall", [BYSTANDER]: "agent_oncall" };
  const keys = [...AGENTS, BURSTER, BYSTANDER].map((a) => `${a}=${keyOf(a)}`).join(",");
  // A DSN with a password that nothing answers: alerts and audit run `auto` on their JSONL fallback,
  // which logs the DSN on selection and the connection error.
  const dsn = `postgres://opsbus:${DSN_PASSWORD}@127.0.0.1:${await freePort()}/opsbus`;
  s = await startStack({
    env: { OPS_ENV: "prod", OPSBUS_API_KEYS: keys, LOG_LEVEL: "trace", DATABASE_URL: dsn, ALERT_BACKEND: "auto", AUDIT_BACKEND: "auto" },
    policies: { rbac: { agents }, toolLimits: { tools: { [RATE_TOOL]: RATE } } },
  });
  registry = buildToolRegistry(s.running.ctx, { logger: s.logs.logger });
});
test.after(async () => s.stop());

test("every action names an entitlement some role grants", () => {
  assert.ok(registry.size >= 9, `the registry has every tool (${[...registry.keys()].join(", ")})`);
  const granted = new Set(ROLES.flatMap((r) => rbac.roles[r]!.entitlements));
  for (const { tool, name, def } of actionsOf()) {
    assert.match(def.entitlement, /^tools\.[a-z_]+\.[a-z_]+$/, `${tool}.${name} names an entitlement`);
    assert.ok(granted.has(def.entitlement) || UNGRANTED_ON_PURPOSE.has(def.entitlement), `${tool}.${name} needs ${def.entitlement}, which no role grants`);
  }
  assert.is(rbac.agents[STRANGER], undefined);
});

test("every role × every tool action: allowed exactly when the role has the action's entitlement", async () => {
  let allowed = 0;
  let denied = 0;
  for (const role of [...ROLES, "(unmapped agent)"]) {
    const agent = role === "(unmapped agent)" ? STRANGER : probeOf(role);
    const entitlements = new Set(rbac.roles[role === "(unmapped agent)" ? rbac.default_role : role]!.entitlements);
    for (const { tool, name, def } of actionsOf()) {
      // Empty params: an allowed call may still be invalid_request or not_found; RBAC comes first.
      const code = codeOf(await call(tool, name, {}, { agent, key: keyOf(agent) }));
      const what = `${role} (${agent}) → ${tool}.${name} [${def.entitlement}]`;
      if (entitlements.has(def.entitlement)) {
        assert.not.ok(code === "forbidden" || code === "unauthenticated", `${what} should be allowed, got ${code}`);
        allowed++;
      } else {
        assert.is(code, "forbidden", `${what} must be refused`);
        denied++;
      }
    }
  }
  assert.ok(allowed > 0 && denied > 0, `the matrix allows (${allowed}) and refuses (${denied})`);
});

test("prod: every tool action without a key, or with an unknown key, is unauthenticated", async () => {
  for (const { tool, name } of actionsOf()) {
    const none = await call(tool, name, {}, { agent: probeOf("agent_cto") });
    const unknown = await call(tool, name, {}, { agent: probeOf("agent_cto"), key: UNKNOWN_KEY });
    assert.equal([codeOf(none), codeOf(unknown)], ["unauthenticated", "unauthenticated"], `${tool}.${name}`);
  }
});

test("bearer keys and DSN passwords never reach logs, audit records or replies", async () => {
  const cto = probeOf("agent_cto");
  const secretParams = {
    password: PARAM_SECRET,
    api_key: keyOf(cto),
    note: `Authorization: Bearer ${keyOf(cto)}`,
    target: `postgres://admin:${DSN_PASSWORD}@db.internal:5432/ops`,
    nested: { authorization: `Bearer ${UNKNOWN_KEY}`, list: [`postgresql://u:${PARAM_SECRET}@h/db`] },
  };
  for (const { tool, name } of actionsOf()) {
    await call(tool, name, secretParams, { agent: cto, key: keyOf(cto) });
    await call(tool, name, secretParams, { key: UNKNOWN_KEY });
  }
  // A key sent as the body's agent_id (a confused client) is refused without being echoed.
  await call("alert_ingest_tool", "list", {}, { agent: keyOf(cto), key: keyOf(cto) });
  await call("alert_ingest_tool", "list", {}, { agent: keyOf(cto) });

  const expected = replies.length;
  const audit = s.running.ctx.stores.audit;
  const records = await waitFor(async () => {
    const r = await audit.query({ limit: 100_000 });
    return r.length >= expected ? r : null;
  }, { message: `${expected} audit records` });
  assert.ok(s.logs.text().includes(`postgres://opsbus:***@127.0.0.1`), "the DSN was logged, masked");
  const auditFiles = readdirSync(s.dataDir, { recursive: true, encoding: "utf8" }).filter((f) => f.includes("audit") && f.endsWith(".jsonl"));
  assert.ok(auditFiles.length > 0, "the audit store wrote JSONL");
  const haystacks: Record<string, string> = {
    logs: s.logs.text(),
    "audit records": JSON.stringify(records),
    "audit files": auditFiles.map((f) => readFileSync(join(s.dataDir, f), "utf8")).join("\n"),
    replies: JSON.stringify(replies),
  };
  for (const [where, text] of Object.entries(haystacks)) {
    for (const secret of SECRETS) assert.not.ok(text.includes(secret), `${secret} found in ${where}: …${text.slice(Math.max(0, text.indexOf(secret) - 200), text.indexOf(secret) + 60)}`);
  }
});

test("a burst from one agent is rate limited while another agent on the same tool is still served", async () => {
  const burst = await Promise.all(Array.from({ length: 30 }, () => call(RATE_TOOL, "query", { limit: 1 }, { agent: BURSTER, key: keyOf(BURSTER) })));
  const codes = burst.map(codeOf);
  const ok = codes.filter((c) => c === "ok").length;
  // The bucket holds `burst` tokens and refills one per 10 s: a burst of 30 gets 5, at most 6.
  assert.ok(ok >= RATE.burst && ok <= RATE.burst + 1, `ok ${ok} of 30: ${codes.join(",")}`);
  assert.is(codes.filter((c) => c === "rate_limited").length, 30 - ok);
  const limited = burst.find((r) => !r.ok) as Extract<ToolReply, { ok: false }>;
  assert.ok(((limited.error.details as { retry_after_ms?: number })?.retry_after_ms ?? 0) > 0, "says when to retry");

  const other = await call(RATE_TOOL, "query", { limit: 1 }, { agent: BYSTANDER, key: keyOf(BYSTANDER) });
  assert.ok(other.ok, `the other agent is served: ${JSON.stringify(other)}`);
  assert.is(codeOf(await call(RATE_TOOL, "query", { limit: 1 }, { agent: BURSTER, key: keyOf(BURSTER) })), "rate_limited", "still limited");
});

test.run();
