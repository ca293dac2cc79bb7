import { test } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnv } from "../../src/config/env.js";
import { ConfigError } from "../../src/config/errors.js";
import { loadPolicies } from "../../src/config/load.js";

function configWith(file: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  cpSync("config", dir, { recursive: true });
  writeFileSync(join(dir, file), text);
  return dir;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

test("the shipped config loads", () => {
  const p = loadPolicies("config");
  assert.is(p.alertRouting.work.ack_wait_seconds, 600);
  assert.is(p.rbac.agents.sofiia, "agent_cto");
});

test("a bad value names the file, the path, the value and what is allowed", () => {
  const dir = configWith("alert_routing_policy.yml", "work:\n  ack_wait_seconds: 99999\n");
  const e = errorOf(() => loadPolicies(dir));
  assert.match(e.message, /alert_routing_policy\.yml/);
  assert.match(e.message, /at work\.ack_wait_seconds: got 99999/);
  assert.match(e.message, /3600/);
  rmSync(dir, { recursive: true });
});

test("an unknown key (a typo) is refused rather than ignored", () => {
  const dir = configWith("alert_routing_policy.yml", "work:\n  ack_wiat_seconds: 60\n");
  assert.match(errorOf(() => loadPolicies(dir)).message, /ack_wiat_seconds/);
  rmSync(dir, { recursive: true });
});

test("invalid YAML, a missing file and an agent mapped to an unknown role are refused", () => {
  const yamlDir = configWith("tool_limits.yml", "defaults: [unclosed\n");
  assert.match(errorOf(() => loadPolicies(yamlDir)).message, /tool_limits\.yml: invalid configuration[\s\S]*not valid YAML/);
  const rbacDir = configWith("rbac_tools_matrix.yml", "roles:\n  r1:\n    entitlements: [tools.alerts.read]\nagents:\n  bob: ghost\ndefault_role: r1\n");
  assert.match(errorOf(() => loadPolicies(rbacDir)).message, /at agents\.bob: got "ghost"; allowed roles: r1/);
  assert.match(errorOf(() => loadPolicies("/nonexistent")).message, /file not found/);
  for (const d of [yamlDir, rbacDir]) rmSync(d, { recursive: true });
});

test("environment: bad values are refused by name; DSN falls back to DATABASE_URL; keys map to agents", () => {
  assert.match(errorOf(() => loadEnv({ OPS_ENV: "qa" })).message, /at OPS_ENV: got "qa"/);
  assert.match(errorOf(() => loadEnv({ ALERT_BACKEND: "mongo" })).message, /ALERT_BACKEND: got "mongo"; allowed: postgres, jsonl, memory, auto/);
  assert.match(errorOf(() => loadEnv({ OPSBUS_API_KEYS: "justakey" })).message, /agent=key/);
  const env = loadEnv({ DATABASE_URL: "postgres://a@h/db", AUDIT_DATABASE_URL: "postgres://b@h/audit", OPSBUS_API_KEYS: "sofiia=k1, monitor=k2" });
  assert.equal([env.stores.alerts.databaseUrl, env.stores.audit.databaseUrl], ["postgres://a@h/db", "postgres://b@h/audit"]);
  assert.equal([env.apiKeys.get("k1"), env.apiKeys.get("k2")], ["sofiia", "monitor"]);
});

test.run();
