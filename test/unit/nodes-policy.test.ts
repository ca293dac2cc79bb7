/** config/nodes_registry.yml: schema, NODES_<KEY>_<FIELD> overrides at load, errors that name the variable. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/errors.js";
import { loadPolicies } from "../../src/config/load.js";
import { nodeEnvVar, nodeTargets, overrideNode } from "../../src/config/nodes-policy.js";
import { configDigest } from "../../src/observability/monitor/digest.js";

const REGISTRY = `nodes:
  NODE1: { label: "Prod", node_id: node1 }
  node-2: { status_url: "http://10.0.0.6:9300/monitor/status", timeout_ms: 1500 }
`;

function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function load(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "cfg-nodes-"));
  cpSync("config", dir, { recursive: true });
  writeFileSync(join(dir, "nodes_registry.yml"), REGISTRY);
  try {
    return withEnv(env, () => loadPolicies(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the registry loads with defaults; targets default node_id and label to the key", () => {
  const targets = nodeTargets(load().nodes);
  assert.equal(targets.map((t) => [t.key, t.node_id, t.label, t.timeout_ms, t.status_url ?? null]), [
    ["NODE1", "node1", "Prod", 3000, null],
    ["node-2", "node-2", "node-2", 1500, "http://10.0.0.6:9300/monitor/status"],
  ]);
});

test("NODES_<KEY>_<FIELD> overrides a field at load; an empty value removes it", () => {
  assert.is(nodeEnvVar("node-2", "status_url"), "NODES_NODE_2_STATUS_URL");
  const p = load({ NODES_NODE1_STATUS_URL: "http://10.0.0.5:9300/monitor/status", NODES_NODE1_TIMEOUT_MS: "800", NODES_NODE_2_STATUS_URL: "" });
  assert.equal(p.nodes.nodes.NODE1, { label: "Prod", node_id: "node1", status_url: "http://10.0.0.5:9300/monitor/status", timeout_ms: 800 });
  assert.is(p.nodes.nodes["node-2"]!.status_url, undefined);
});

test("a bad override stops loading with a message naming the variable and the value", () => {
  let err: unknown;
  try {
    load({ NODES_NODE1_TIMEOUT_MS: "fast" });
  } catch (e) {
    err = e;
  }
  assert.instance(err, ConfigError);
  assert.match((err as Error).message, /NODES_NODE1_TIMEOUT_MS: got "fast"/);
  assert.match((err as Error).message, /nodes_registry\.yml/);
  const direct = overrideNode("NODE1", { timeout_ms: 3000 }, { NODES_NODE1_NATS_URL: "http://nope" });
  assert.equal(direct.entry, undefined);
  assert.match(direct.issues[0]!, /^NODES_NODE1_NATS_URL: got "http:\/\/nope"; a NATS URL/);
});

test("the config digest ignores the nodes registry but not the other policies", () => {
  const a = load();
  const b = load({ NODES_NODE1_STATUS_URL: "http://10.0.0.5:9300/monitor/status" });
  assert.is(configDigest(a), configDigest(b));
  const c = { ...a, toolLimits: { ...a.toolLimits, defaults: { ...a.toolLimits.defaults, burst: 1 } } };
  assert.is.not(configDigest(c), configDigest(a));
});

test.run();
