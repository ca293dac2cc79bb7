import { test } from "uvu";
import * as assert from "uvu/assert";
import { AuditWriter } from "../../src/gateway/index.js";
import type { AuditRecord } from "../../src/audit/store.js";
import { waitFor } from "../harness/wait.js";
import { capturedLogger, FakeAuditStore } from "./gateway-fixtures.js";

let seq = 0;
function record(): AuditRecord {
  seq += 1;
  return {
    id: `aud_${seq}`,
    ts: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    agent_id: "a",
    role: "r",
    tool: "t",
    action: "x",
    decision: "allow",
    status: "ok",
    duration_ms: 1,
    params: {},
    channel: "nats",
    node_id: "n",
  };
}

test("records are written in batches, not one append per record", async () => {
  const store = new FakeAuditStore();
  const writer = new AuditWriter(store, capturedLogger().logger, { flushIntervalMs: 10_000, batchSize: 50 });
  for (let i = 0; i < 120; i++) writer.write(record());
  await writer.flush();
  assert.is(store.records.length, 120);
  assert.ok(store.appendCalls <= 4, `appendCalls=${store.appendCalls}`);
  assert.is(writer.pending(), 0);
  await writer.close();
});

test("a lone record is flushed by the timer", async () => {
  const store = new FakeAuditStore();
  const writer = new AuditWriter(store, capturedLogger().logger, { flushIntervalMs: 5 });
  writer.write(record());
  assert.is(writer.pending(), 1);
  await waitFor(() => store.records.length === 1);
  assert.is(writer.pending(), 0);
  await writer.close();
});

test("a failed flush keeps the records, logs, and retries until the store takes them", async () => {
  const store = new FakeAuditStore();
  store.failAppends = 2;
  const { logger, lines } = capturedLogger();
  const writer = new AuditWriter(store, logger, { flushIntervalMs: 2, maxRetryDelayMs: 10 });
  const written = [record(), record(), record()];
  for (const r of written) writer.write(r);
  await writer.flush();
  assert.is(writer.pending(), 3);
  assert.ok(lines.some((l) => l.includes("audit flush failed")));
  await waitFor(() => store.records.length === 3);
  assert.equal(store.records.map((r) => r.id), written.map((r) => r.id));
  assert.is(writer.pending(), 0);
  await writer.close();
});

test("past maxBuffered the oldest records are dropped, counted and logged", async () => {
  const store = new FakeAuditStore();
  store.failAppends = 1_000;
  const { logger, lines } = capturedLogger();
  const writer = new AuditWriter(store, logger, { flushIntervalMs: 60_000, maxBuffered: 5, batchSize: 100 });
  const written = Array.from({ length: 8 }, record);
  for (const r of written) writer.write(r);
  assert.is(writer.pending(), 5);
  assert.is(writer.dropped(), 3);
  assert.ok(lines.some((l) => l.includes("audit buffer full")));
  store.failAppends = 0;
  await writer.close();
  assert.equal(store.records.map((r) => r.id), written.slice(3).map((r) => r.id));
});

test("close drains; a record written after close still reaches the store", async () => {
  const store = new FakeAuditStore();
  const writer = new AuditWriter(store, capturedLogger().logger, { flushIntervalMs: 60_000 });
  writer.write(record());
  await writer.close();
  assert.is(store.records.length, 1);
  writer.write(record());
  await waitFor(() => store.records.length === 2);
});

test("close with the store down logs how many records were lost", async () => {
  const store = new FakeAuditStore();
  store.failAppends = 1;
  const { logger, lines } = capturedLogger();
  const writer = new AuditWriter(store, logger, { flushIntervalMs: 60_000 });
  writer.write(record());
  await writer.close();
  assert.ok(lines.some((l) => l.includes('"lost":1')));
});

test.run();
