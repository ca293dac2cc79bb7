/**
 * The audit writer in health, /metrics and verify: a store that stops taking records (backlog
 * that does not shrink) and a record refused for good (dead-lettered) make the gateway not ok,
 * with the reason, until the writer keeps up again.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync } from "node:fs";
import { verify } from "../../src/cli/verify.js";
import type { HealthReport } from "../../src/observability/health.js";
import { deadLetterPath } from "../../src/util/dead-letter.js";
import type { AuditRecord } from "../../src/audit/store.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let metricsUrl: string;
let realAppend: (records: AuditRecord[]) => Promise<void>;

test.before(async () => {
  const port = await freePort();
  s = await startStack({ roles: ["gateway"], env: { HEALTH_STALL_SECONDS: "1", METRICS_PORT: String(port) } });
  metricsUrl = `http://127.0.0.1:${port}`;
  const store = s.running.ctx.stores.audit;
  realAppend = store.append.bind(store);
});
test.after(async () => s.stop());

const health = async () => (await s.client.request(s.running.ctx.subjects.tools.health, "", { timeout: 5000 })).json<HealthReport>();
const gatewayAudit = (h: HealthReport) => h.audit.find((a) => a.writer === "gateway");
const metric = async (series: string) => {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};
const someCalls = async (n: number, agent = "helion") => {
  for (let i = 0; i < n; i++) await s.call("alert_ingest_tool", "list", {}, { agent });
};

test("an audit store that stops taking records: backlog stuck → not ok with the error, /healthz 503, verify fails; ok again once it drains", async () => {
  const start = gatewayAudit(await health());
  assert.equal([start?.backlog, start?.dead_lettered, start?.problem], [0, 0, undefined]);
  s.running.ctx.stores.audit.append = async () => {
    throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
  };
  await someCalls(3);
  const stuck = await waitFor(async () => {
    const h = await health();
    return gatewayAudit(h)?.problem ? h : null;
  }, { message: "audit backlog reported stuck", timeoutMs: 15_000 });
  assert.is(stuck.ok, false);
  assert.match(stuck.problems.join("\n"), /^audit \(gateway\): 3 record\(s\) waiting, not written for \d+s \(last error: ECONNREFUSED connect ECONNREFUSED/m);
  assert.is((await fetch(`${metricsUrl}/healthz`)).status, 503);
  assert.is(await metric('opsbus_audit_backlog{writer="gateway"}'), 3);
  const v = await verify({ url: s.nats.url, timeoutMs: 3000, prefix: "ops" });
  assert.is(v.pass, false);
  assert.match(v.checks.find((c) => c.name === "health")!.detail, /audit \(gateway\): 3 record\(s\) waiting/);

  s.running.ctx.stores.audit.append = realAppend;
  const ok = await waitFor(async () => {
    const h = await health();
    return h.ok ? h : null;
  }, { message: "health ok once the writer drained", timeoutMs: 15_000 });
  assert.equal([gatewayAudit(ok)?.backlog, ok.problems], [0, []]);
  assert.is(await metric('opsbus_audit_backlog{writer="gateway"}'), 0);
});

test("a record the store refuses for good is dead-lettered: counted in /metrics and health, kept in the file, the rest stored", async () => {
  s.running.ctx.stores.audit.append = async (records) => {
    if (records.some((r) => r.agent_id === "poison-agent")) throw Object.assign(new Error("invalid byte sequence for encoding UTF8"), { code: "22021" });
    return realAppend(records);
  };
  await someCalls(1, "poison-agent");
  await someCalls(2);
  const h = await waitFor(async () => {
    const r = await health();
    return gatewayAudit(r)?.dead_lettered === 1 ? r : null;
  }, { message: "one dead letter in health" });
  assert.is(h.ok, false);
  assert.match(h.problems.join("\n"), /^audit \(gateway\): 1 record\(s\) dead-lettered since start, the last within 1s \(last error: 22021 invalid byte sequence/m);
  assert.is(await metric('opsbus_audit_dead_letters_total{writer="gateway"}'), 1);
  const file = deadLetterPath(s.dataDir, "audit");
  assert.ok(existsSync(file), file);
  const letters = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { record: AuditRecord });
  assert.equal(letters.map((l) => l.record.agent_id), ["poison-agent"]);
  // Its batch-mates were stored, and once the window has passed without new dead letters, ok again.
  const stored = await s.running.ctx.stores.audit.query({ agent_id: "helion", limit: 100 });
  assert.ok(stored.length >= 5, `helion's calls stored: ${stored.length}`);
  await waitFor(async () => (await health()).ok, { message: "ok again after the window", timeoutMs: 10_000 });
  s.running.ctx.stores.audit.append = realAppend;
});

test.run();
