/** `opsbus verify` as a child process against real nodes: exit 0 pass, 1 critical failure, 2 usage. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import type { VerifyResult } from "../../src/cli/verify.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { reapAtExit } from "../harness/reaper.js";
import { startStack, type PolicyOverrides, type Stack } from "../harness/stack.js";

const KEYS = "sofiia=k-sofiia,helion=k-helion";
const servers: NatsServerHandle[] = [];
const stacks: Stack[] = [];
let prodNats: NatsServerHandle;
let stagingNats: NatsServerHandle;
let devNats: NatsServerHandle;
let idleNats: NatsServerHandle;

async function node(nats: NatsServerHandle, env: Record<string, string>, policies?: PolicyOverrides): Promise<Stack> {
  const st = await startStack({ nats, roles: ["gateway"], env, ...(policies ? { policies } : {}) });
  stacks.push(st);
  return st;
}

test.before(async () => {
  [prodNats, stagingNats, devNats, idleNats] = await Promise.all([startNatsServer(), startNatsServer(), startNatsServer(), startNatsServer()]);
  servers.push(prodNats, stagingNats, devNats, idleNats);
  await node(prodNats, { OPS_ENV: "prod", OPSBUS_API_KEYS: KEYS, NODE_ID: "prod1" });
  // Staging allows memory stores (the harness picks memory outside prod): the misconfiguration verify must catch.
  await node(stagingNats, { OPS_ENV: "staging", OPSBUS_API_KEYS: KEYS, NODE_ID: "stage1" });
  await node(devNats, { NODE_ID: "dev-a" });
  await node(devNats, { NODE_ID: "dev-b" });
  await node(devNats, { NODE_ID: "dev-odd" }, { toolLimits: { defaults: { rate_per_minute: 7 } } });
  // Only the gateway runs and alerts wait: every other check passes, health must not.
  const idle = await node(idleNats, { NODE_ID: "gw-only" });
  for (let i = 0; i < 3; i++) await idle.publishAlert({ service: "verify", title: `waiting ${i}`, kind: "custom" });
});

test.after(async () => {
  for (const st of stacks) await st.stop();
  for (const srv of servers) await srv.cleanup();
});

async function verify(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "verify", ...args], {
    env: { ...process.env, LOG_LEVEL: "warn", NATS_URL: devNats.url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  reapAtExit(child);
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, out, err };
}

async function verifyJson(...args: string[]): Promise<{ code: number | null; result: VerifyResult }> {
  const r = await verify(...args, "--json", "--timeout", "2000");
  assert.ok(r.out.trim().startsWith("{"), `JSON output expected; got ${r.out}\n${r.err}`);
  return { code: r.code, result: JSON.parse(r.out) as VerifyResult };
}

const check = (r: VerifyResult, name: string) => {
  const c = r.checks.find((x) => x.name === name);
  assert.ok(c, `check ${name} in ${JSON.stringify(r.checks.map((x) => x.name))}`);
  return c;
};

test("a healthy prod node passes: gateway, health, status, backend, auth enforced → exit 0", async () => {
  const { code, result } = await verifyJson("--nats", prodNats.url, "--node", "prod1", "--env", "prod");
  assert.is(code, 0, JSON.stringify(result, null, 2));
  assert.equal([result.pass, result.node, result.env], [true, "prod1", "prod"]);
  for (const name of ["nats", "gateway_ping", "gateway_info", "health", "monitor_status", "router", "env", "alerts_backend", "auth_enforced"]) {
    assert.ok(check(result, name).ok, name);
  }
  assert.match(check(result, "alerts_backend").detail, /JsonlAlertStore/);
  assert.match(check(result, "auth_enforced").detail, /unauthenticated/);
  // The shipped default receiver reads OPSBUS_WEBHOOK_URL, unset here: a warning, not a failure.
  const receivers = check(result, "receivers");
  assert.equal([receivers.ok, receivers.critical], [false, false]);
  assert.match(receivers.detail, /receiver "default" \(webhook\) is off: OPSBUS_WEBHOOK_URL is not set; nobody routed to it is notified/);
});

test("a staging node on a memory alert store fails alerts_backend → exit 1 (human output says FAIL)", async () => {
  const { code, result } = await verifyJson("--nats", stagingNats.url, "--node", "stage1");
  assert.is(code, 1);
  const c = check(result, "alerts_backend");
  assert.equal([c.ok, c.critical], [false, true]);
  assert.match(c.detail, /MemoryAlertStore/);
  assert.ok(check(result, "auth_enforced").ok, "auth is still enforced there");
  const human = await verify("--nats", stagingNats.url, "--node", "stage1");
  assert.is(human.code, 1);
  assert.match(human.out, /FAIL\s+alerts_backend/);
  assert.match(human.out, /FAIL: 1 critical check\(s\) failed on node stage1/);
});

test("a dev node reports env mismatch when --env prod is expected → exit 1", async () => {
  const { code, result } = await verifyJson("--node", "dev-a", "--env", "prod");
  assert.is(code, 1);
  assert.equal([check(result, "env").ok, check(result, "alerts_backend").ok, check(result, "auth_enforced").skipped], [false, true, true]);
});

test("parity: identical nodes pass; a node with other policies fails parity_config → exit 1", async () => {
  const same = await verifyJson("--node", "dev-a", "--compare-node", "dev-b");
  assert.is(same.code, 0, JSON.stringify(same.result, null, 2));
  for (const name of ["parity_version", "parity_config", "parity_backends"]) assert.ok(check(same.result, name).ok, name);
  assert.ok(check(same.result, "parity_streams").skipped, "one NATS system: nothing to compare");

  const odd = await verifyJson("--node", "dev-a", "--compare-node", "dev-odd");
  assert.is(odd.code, 1);
  assert.is(check(odd.result, "parity_config").ok, false);
  assert.ok(check(odd.result, "parity_version").ok);
});

test("--compare-with another NATS system compares stream config and backends", async () => {
  const { code, result } = await verifyJson("--node", "dev-a", "--compare-with", prodNats.url, "--compare-node", "prod1");
  assert.is(code, 1);
  assert.ok(check(result, "parity_streams").ok, check(result, "parity_streams").detail);
  assert.is(check(result, "parity_backends").ok, false);
});

test("gateway only with alerts waiting: health fails naming alerts-ingest → exit 1, the rest passes", async () => {
  const { code, result } = await verifyJson("--nats", idleNats.url, "--node", "gw-only");
  assert.is(code, 1, JSON.stringify(result, null, 2));
  const health = check(result, "health");
  assert.equal([health.ok, health.critical], [false, true]);
  assert.match(health.detail, /alerts-ingest: 3 pending, no active pull \(no alerts-in worker is pulling\)/);
  assert.equal(result.checks.filter((c) => !c.ok && c.critical).map((c) => c.name), ["health"]);
  const human = await verify("--nats", idleNats.url, "--node", "gw-only");
  assert.is(human.code, 1);
  assert.match(human.out, /FAIL\s+health\s+ops.health not ok \(answered by gw-only\): alerts-ingest: 3 pending/);
});

test("nothing to verify, or a missing node: exit 1; bad usage: exit 2; --help: exit 0", async () => {
  const down = await verifyJson("--nats", `nats://127.0.0.1:${await freePort()}`);
  assert.is(down.code, 1);
  assert.is(check(down.result, "nats").ok, false);
  const missing = await verifyJson("--node", "nobody");
  assert.is(missing.code, 1);
  assert.is(check(missing.result, "gateway_ping").ok, false);
  assert.is((await verify("--bogus")).code, 2);
  assert.is((await verify("--env", "qa")).code, 2);
  const help = await verify("--help");
  assert.is(help.code, 0);
  assert.match(help.out, /--compare-with/);
});

test.run();
