/**
 * Counting what memory and JSONL stores hold (`recordsInMemory`) and the warning past
 * JSONL_WARN_RECORDS: only stores that count (Postgres has no count), strictly above the limit,
 * named with their backend kind and the setting to change; logged once per crossing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StoreMemoryWatch, storesOverLimit, type StoreViews } from "../../src/observability/store-memory.js";
import { JsonlAlertStore } from "../../src/stores/alerts/jsonl.js";
import { MemoryAuditStore } from "../../src/stores/audit/memory.js";
import { item, T0 } from "../conformance/fixtures.js";
import { captureLogger } from "../harness/logs.js";

const root = mkdtempSync(join(tmpdir(), "opsbus-store-memory-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

test("only counting stores strictly above the limit warn, each with its kind and its <PREFIX>_BACKEND", () => {
  const views: StoreViews = {
    alerts: { backendName: "PostgresAlertStore" },
    audit: { backendName: "JsonlAuditStore", recordsInMemory: 10 },
    incidents: { backendName: "MemoryIncidentStore", recordsInMemory: 11 },
    jobs: { backendName: "JsonlJobLedgerStore", recordsInMemory: 120_000 },
  };
  assert.equal(
    storesOverLimit(views, 10).map((o) => o.warning),
    [
      "incidents store: memory holds 11 records in memory (more than JSONL_WARN_RECORDS=10); use Postgres (INCIDENT_BACKEND=postgres) at this size",
      "jobs store: JSONL holds 120,000 records in memory (more than JSONL_WARN_RECORDS=10); use Postgres (JOB_BACKEND=postgres) at this size",
    ],
  );
  assert.equal(storesOverLimit(views).map((o) => o.store), ["jobs"], "default limit 50,000");
});

test("a JSONL alert store counts its alerts and receipts, the same after a reload from its file", async () => {
  const path = join(root, "alerts.jsonl");
  const store = new JsonlAlertStore({ path });
  await store.init();
  assert.is(store.recordsInMemory, 0);
  await store.ingestBatch([item("a", { key: "k1" }), item("b", { key: "k2" }), item("a", { key: "k3" })], T0);
  assert.is(store.recordsInMemory, 2 + 3, "two alerts, three receipts");
  await store.close();
  const reloaded = new JsonlAlertStore({ path });
  await reloaded.init();
  assert.is(reloaded.recordsInMemory, 5);
  await reloaded.close();
});

test("the watch logs a store once when it crosses, and again only after it fell back under", async () => {
  const audit = new MemoryAuditStore();
  const cap = captureLogger();
  const watch = new StoreMemoryWatch({ alerts: { backendName: "PostgresAlertStore" }, audit }, 1, cap.logger);
  const record = (id: string) => ({ id, ts: T0.toISOString(), agent_id: "a", tool: "t", action: "x", ok: true }) as never;
  assert.equal(watch.check(), []);
  await audit.append([record("1"), record("2")]);
  assert.is(watch.check().length, 1);
  assert.is(watch.check().length, 1);
  const logged = () => cap.lines().filter((l) => String(l.msg).startsWith("audit store: memory holds"));
  assert.is(logged().length, 1);
  await audit.purgeOlderThan(new Date(T0.getTime() + 1));
  assert.equal(watch.check(), []);
  await audit.append([record("3"), record("4")]);
  watch.check();
  assert.is(logged().length, 2, "a second crossing is logged again");
});

test.run();
