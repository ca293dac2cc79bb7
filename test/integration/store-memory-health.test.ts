/**
 * A JSONL store past JSONL_WARN_RECORDS says so: health keeps `ok: true` (the store works) but
 * lists a warning naming the store, its count and the Postgres setting to use; `opsbus verify`
 * shows it as a non-critical WARN (exit 0); the process logs it once when the store crosses, not
 * on every question; a restart on a copy of the file warns again from the records it loads.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verify, type VerifyResult } from "../../src/cli/verify.js";
import type { HealthReport } from "../../src/observability/health.js";
import { item, T0 } from "../conformance/fixtures.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { startStack, type Stack } from "../harness/stack.js";

const LIMIT = 5;
const WARNING = /^alerts store: JSONL holds 6 records in memory \(more than JSONL_WARN_RECORDS=5\); use Postgres \(ALERT_BACKEND=postgres\) at this size$/;

let nats: NatsServerHandle;
let s: Stack;

const env = { ALERT_BACKEND: "jsonl", JSONL_WARN_RECORDS: String(LIMIT) };
const health = async (st: Stack) => (await st.client.request(st.running.ctx.subjects.tools.health, "", { timeout: 5000 })).json<HealthReport>();
const crossings = (st: Stack) => st.logs.lines().filter((l) => typeof l.msg === "string" && l.msg.startsWith("alerts store: JSONL holds"));
const check = (r: VerifyResult, name: string) => r.checks.find((c) => c.name === name);

test.before(async () => {
  nats = await startNatsServer();
  s = await startStack({ roles: ["gateway"], nats, env });
});
test.after(async () => {
  await s.stop();
  await nats.cleanup();
});

test("under the limit: no warning, verify's health_warnings passes", async () => {
  await s.running.ctx.stores.alerts.ingestBatch([1, 2, 3, 4, 5].map((i) => item(`fp-${i}`)), T0);
  const h = await health(s);
  assert.equal([h.ok, h.warnings], [true, []]);
  const v = await verify({ url: nats.url, timeoutMs: 3000, prefix: "ops" });
  assert.equal([v.pass, check(v, "health_warnings")?.ok], [true, true]);
  assert.is(crossings(s).length, 0);
});

test("past the limit: a warning in health (still ok), WARN in verify (exit 0), logged once", async () => {
  await s.running.ctx.stores.alerts.ingestBatch([item("fp-6")], T0);
  const h = await health(s);
  assert.is(h.ok, true, JSON.stringify(h.problems));
  assert.is(h.warnings.length, 1, JSON.stringify(h.warnings));
  assert.match(h.warnings[0]!, WARNING);
  await health(s);
  await health(s);

  const v = await verify({ url: nats.url, timeoutMs: 3000, prefix: "ops" });
  const w = check(v, "health_warnings");
  assert.equal([v.pass, w?.ok, w?.critical], [true, false, false]);
  assert.match(w!.detail, /alerts store: JSONL holds 6 records in memory/);
  assert.ok(check(v, "health")?.ok, "the health check itself passes");

  const logged = crossings(s);
  assert.is(logged.length, 1, JSON.stringify(logged));
  assert.equal([logged[0]!.level, logged[0]!.store, logged[0]!.records, logged[0]!.limit], [40, "alerts", 6, LIMIT]);
});

test("a restart on a copy of the file warns from the records it loads, logged at start", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-store-memory-"));
  copyFileSync(join(s.dataDir, "alerts.jsonl"), join(dataDir, "alerts.jsonl"));
  const again = await startStack({ roles: ["gateway"], nats, env: { ...env, DATA_DIR: dataDir } });
  try {
    assert.is(again.running.ctx.stores.alerts.backendName, "JsonlAlertStore");
    assert.is(crossings(again).length, 1, "logged when the process started");
    const h = await health(again);
    assert.is(h.ok, true);
    assert.match(h.warnings.join("\n"), WARNING);
    assert.is(crossings(again).length, 1);
  } finally {
    await again.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
