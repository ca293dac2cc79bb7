/**
 * Storable by construction (issue 11, finding 1): no caller's input can make the audit store
 * refuse a batch, and a batch it refuses anyway is split so only the bad record is set aside.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AuditWriter, redactParams, roleOf } from "../../src/gateway/index.js";
import { MemoryAuditStore } from "../../src/stores/audit/memory.js";
import type { AuditRecord } from "../../src/audit/store.js";
import { isRecordError, unstorableReason } from "../../src/util/storable.js";
import { createAuditTool } from "../../src/tools/audit-tool.js";
import { toolRegistry } from "../../src/tools/types.js";
import { waitFor } from "../harness/wait.js";
import { capturedLogger, errorOf, harness, loadShippedPolicies, rbac, resultOf } from "./gateway-fixtures.js";

const dirs: string[] = [];
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Every string and key in `v` is one Postgres can store. */
function assertStorable(v: unknown, where = "(root)"): void {
  if (typeof v === "string") return assert.is(unstorableReason(v), undefined, `${where}: ${JSON.stringify(v)}`);
  if (v === null || typeof v !== "object") return;
  for (const [k, x] of Object.entries(v)) {
    assert.is(unstorableReason(k), undefined, `key at ${where}`);
    assertStorable(x, `${where}.${k}`);
  }
}

let seq = 0;
function record(over: Partial<AuditRecord> = {}): AuditRecord {
  seq += 1;
  return {
    id: `aud_${String(seq).padStart(4, "0")}`, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(), agent_id: "a", role: "r",
    tool: "t", action: "x", decision: "allow", status: "ok", duration_ms: 1, params: {}, channel: "nats", node_id: "n", ...over,
  };
}

/** Refuses, like Postgres does (SQLSTATE 22P05), any batch holding a record whose params.poison is set. */
class PickyStore extends MemoryAuditStore {
  appends = 0;
  down = 0;
  override append(records: AuditRecord[]): Promise<void> {
    this.appends++;
    if (this.down > 0) {
      this.down--;
      return Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
    }
    if (records.some((r) => r.params.poison !== undefined)) {
      return Promise.reject(Object.assign(new Error("unsupported Unicode escape sequence"), { code: "22P05" }));
    }
    return super.append(records);
  }
}

test("redactParams: NUL and lone surrogates replaced in values and keys, cuts never split a pair", () => {
  const out = redactParams({ a: "\u0000", "k\u0000": "x\ud800y", nested: ["\udfff", { deep: "a\u0000b" }], note: `${"n".repeat(511)}😀` }, ["secret"]);
  assertStorable(out);
  assert.is(out.a, "\\u0000");
  assert.is(out["k\\u0000"], "x\ufffdy");
  const note = String(out.note);
  assert.ok(note.startsWith("n".repeat(511)) && note.includes("…[cut"), note.slice(505));
  assert.not.ok(note.includes("\ud83d"), "the emoji's high surrogate is not left alone");
});

test("redactParams: a __proto__ key stays a key and does not change the record's prototype", () => {
  const out = redactParams(JSON.parse('{"__proto__":{"x":1},"constructor":"c"}'), []);
  assert.is(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(Object.keys(out).sort(), ["__proto__", "constructor"]);
  assert.equal(JSON.parse(JSON.stringify(out)), JSON.parse('{"__proto__":{"x":1},"constructor":"c"}'));
});

test("roleOf: agent_id constructor, __proto__ or toString gets the default role, not Object.prototype's", () => {
  for (const agent of ["constructor", "__proto__", "toString", "hasOwnProperty"]) assert.is(roleOf(rbac, agent), rbac.default_role, agent);
});

test("a call as agent constructor is audited with the default role and the audit keeps recording", async () => {
  const h = harness();
  const store = new MemoryAuditStore();
  const writer = new AuditWriter(store, capturedLogger().logger, { flushIntervalMs: 5 });
  h.deps.audit = writer;
  await h.call({ action: "say", params: { text: "hi" }, agent_id: "constructor" });
  await h.call({ action: "say", params: { text: "later" }, agent_id: "alice" });
  await writer.flush();
  const stored = await store.query({});
  // Both calls can fall in one millisecond, and the store orders by time: compared by agent.
  const byAgent = stored.map((r) => [r.agent_id, r.role]).sort(([a], [b]) => (a! < b! ? -1 : 1));
  assert.equal(byAgent, [["alice", "writer"], ["constructor", rbac.default_role]]);
  assert.equal(writer.stats(), { backlog: 0, deadLettered: 0, dropped: 0 });
  await writer.close();
});

test("caller text in every audit field is made storable before it reaches the store", async () => {
  const h = harness();
  await h.call(JSON.stringify({ action: "s\u0000y", params: { a: "\u0000" }, agent_id: "ag\ud800" }), { requestId: "r\u0000id", tool: "x\u0000" });
  const [r] = await h.audited();
  assertStorable(r);
  assert.is(r?.agent_id, "ag\ufffd");
});

test("isRecordError: data errors split the batch; connection, timeout and disk errors do not", () => {
  const e = (code: string | undefined, name = "Error") => Object.assign(new Error("m"), { name, ...(code ? { code } : {}) });
  for (const err of [e("22P05"), e("22P02"), e("23502"), e("54000"), e(undefined, "DataCloneError"), e(undefined, "RangeError")]) assert.ok(isRecordError(err), err.name);
  for (const err of [e("ECONNREFUSED"), e("08006"), e("57P01"), e("53300"), e("40001"), e("ENOSPC"), e(undefined), e(undefined, "TypeError"), new Error("timeout exceeded when trying to connect")]) {
    assert.not.ok(isRecordError(err), String((err as { code?: string }).code));
  }
});

test("a poison record in a batch is isolated: dead-lettered to the file, counted, the rest stored", async () => {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-dl-"));
  dirs.push(dir);
  const store = new PickyStore();
  const { logger, lines } = capturedLogger();
  const file = join(dir, "dead-letter", "audit.jsonl");
  const writer = new AuditWriter(store, logger, { flushIntervalMs: 5, batchSize: 64, deadLetterPath: file });
  const batch = Array.from({ length: 64 }, (_, i) => record(i === 37 ? { params: { poison: "\u0000" } } : {}));
  for (const r of batch) writer.write(r);
  await writer.flush();
  const stored = (await store.query({ limit: 1000 })).map((r) => r.id);
  assert.equal(stored, batch.filter((_, i) => i !== 37).map((r) => r.id));
  const letters = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(letters.map((l) => [l.source, l.record.id]), [["audit", batch[37]!.id]]);
  assert.match(letters[0].reason, /^22P05 /);
  const stats = writer.stats();
  assert.equal([stats.backlog, stats.deadLettered], [0, 1]);
  assert.match(String(stats.lastError), /22P05/);
  assert.ok(store.appends <= 2 * Math.log2(64) + 4, `bisected in ${store.appends} appends`);
  assert.ok(lines.some((l) => l.includes("dead-lettered")));
  // Later calls are stored as usual.
  const later = record();
  writer.write(later);
  await waitFor(async () => (await store.query({ limit: 1000 })).some((r) => r.id === later.id));
  await writer.close();
});

test("a store that is down is retried with the whole batch, never dead-lettered", async () => {
  const store = new PickyStore();
  store.down = 3;
  const writer = new AuditWriter(store, capturedLogger().logger, { flushIntervalMs: 2, maxRetryDelayMs: 10 });
  const batch = [record(), record(), record()];
  for (const r of batch) writer.write(r);
  await writer.flush();
  assert.equal([writer.stats().backlog, writer.stats().deadLettered], [3, 0]);
  assert.match(String(writer.stats().lastError), /ECONNREFUSED/);
  await waitFor(async () => (await store.query({})).length === 3);
  assert.equal(writer.stats().deadLettered, 0);
  await writer.close();
});

test("audit_tool.query {limit:5} returns the newest five, newest first; cleanup refuses an absurd age", async () => {
  const store = new MemoryAuditStore();
  const records = Array.from({ length: 12 }, () => record());
  await store.append(records);
  const writer = new AuditWriter(new MemoryAuditStore(), capturedLogger().logger);
  const h = harness({ tools: [createAuditTool({ audit: store, retentionDays: 90 })] });
  h.deps.policies = loadShippedPolicies();
  h.deps.registry = toolRegistry([createAuditTool({ audit: store, retentionDays: 90 })]);
  const call = (action: string, params: Record<string, unknown>) => h.call({ action, params, agent_id: "sofiia" }, { tool: "audit_tool" });
  const q = resultOf<{ records: AuditRecord[] }>(await call("query", { limit: 5 }));
  assert.equal(q.records.map((r) => r.id), records.slice(-5).reverse().map((r) => r.id));
  // export keeps time order, for NDJSON windows.
  const ex = resultOf<{ ndjson: string }>(await call("export", { limit: 3 }));
  assert.equal(ex.ndjson.trim().split("\n").map((l) => JSON.parse(l).id), records.slice(0, 3).map((r) => r.id));
  // A filter no record can hold is the caller's mistake (Postgres would refuse it as a parameter).
  assert.is(errorOf(await call("query", { agent_id: "f\u0000uzz" })).code, "invalid_request");
  assert.is(errorOf(await call("query", { tool: "t\ud800" })).code, "invalid_request");
  const err = errorOf(await call("cleanup", { older_than_days: 1e15 }));
  assert.is(err.code, "invalid_request");
  assert.match(JSON.stringify(err.details), /36500/);
  await writer.close();
});

test.run();
