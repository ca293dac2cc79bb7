/**
 * Issue 11, finding 3: an alert Postgres cannot store, taken by the JSONL fallback during an
 * outage, used to fail every replay ("replay into PostgresAlertStore failed; staying on
 * JsonlAlertStore", forever). The replay now quarantines what Postgres refuses and completes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AlertStore } from "../../src/alerts/store.js";
import type { AuditStore } from "../../src/audit/store.js";
import { createAlertStore, createAuditStore, type StoreFactoryOptions } from "../../src/stores/factory.js";
import { auditRecord, item, T0, at } from "../conformance/fixtures.js";
import { captureLogger, type CapturedLogger } from "../harness/logs.js";
import { startPgCluster, type PgClusterHandle } from "../harness/pgCluster.js";
import { waitFor } from "../harness/wait.js";
import { testPool } from "../harness/postgres.js";

const test = suite("auto store replay with a poison row");
let cluster: PgClusterHandle;
let direct: pg.Pool;
const dirs: string[] = [];
const open: Array<{ close(): Promise<void> }> = [];

test.before(async () => {
  cluster = await startPgCluster();
  direct = testPool(cluster.url);
  direct.on("error", () => {});
});
test.after.each(async () => {
  await cluster.start();
  await Promise.all(open.splice(0).map((s) => s.close()));
  await direct.query("DROP TABLE IF EXISTS alerts, alert_fingerprints, alert_receipts, alert_receipt_batches, audit_log, opsbus_migrations");
});
test.after(async () => {
  await direct.end();
  await cluster.destroy();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function options(cap: CapturedLogger): StoreFactoryOptions {
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-auto-q-"));
  dirs.push(dataDir);
  return { env: { backend: "auto", databaseUrl: cluster.url }, opsEnv: "prod", dataDir, logger: cap.logger, retryIntervalMs: 200 };
}
const waitForBackend = (s: { backendName: string }, name: string) => waitFor(() => s.backendName === name, { timeoutMs: 20_000, message: `backend ${name}` });
const rows = async (sql: string) => (await direct.query(sql)).rows;
const letters = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));

test("alerts: a NUL alert taken during the outage is quarantined; the replay completes and auto is back on Postgres", async () => {
  const cap = captureLogger();
  const opts = options(cap);
  const s: AlertStore = await createAlertStore(opts);
  open.push(s);
  await s.ingestBatch([item("fp-before", { key: "k0" })], T0);
  await cluster.stop();
  // The store API, not the ingest edge (which refuses NUL now): what an older process may have left.
  const poison = item("fp-poison", { key: "k2", alert: { message: "nul \u0000 here" } });
  await s.ingestBatch([item("fp-good-1", { key: "k1" }), poison, item("fp-good-2", { key: "k3" })], at(1));
  assert.is(s.backendName, "JsonlAlertStore");
  await cluster.start();
  await waitForBackend(s, "PostgresAlertStore");

  assert.equal((await rows("SELECT fingerprint FROM alerts ORDER BY 1")).map((r) => r.fingerprint), ["fp-before", "fp-good-1", "fp-good-2"]);
  const quarantine = join(opts.dataDir, "fallback", "alerts", "quarantine.jsonl");
  assert.ok(existsSync(quarantine), "the refused row is kept in a file");
  const kept = letters(quarantine);
  assert.equal(kept.map((l) => [l.source, l.record.kind, l.record.data.fingerprint]), [["alert_store replay", "alert", "fp-poison"]]);
  assert.match(kept[0].reason, /^22P05 /);
  assert.is(kept[0].record.data.message, "nul \u0000 here", "kept as it was, to fix and replay by hand");
  const log = cap.lines().map((l) => String(l.msg));
  assert.ok(log.some((m) => m.includes("refused a row of the replay; quarantined")));
  assert.ok(log.some((m) => /^alert_store: replayed \d+ rows from JsonlAlertStore into PostgresAlertStore, 1 quarantined$/.test(m)), log.join("\n"));
  assert.not.ok(log.some((m) => m.includes("replay into PostgresAlertStore failed")));
  // Back on Postgres for good: later ingests land there.
  await s.ingestBatch([item("fp-after")], at(2));
  assert.equal((await rows("SELECT count(*)::int AS n FROM alerts WHERE fingerprint = 'fp-after'"))[0].n, 1);
});

test("audit: a record Postgres refuses (a lone surrogate in jsonb) is quarantined, the replay completes", async () => {
  const cap = captureLogger();
  const opts = options(cap);
  const s: AuditStore = await createAuditStore(opts);
  open.push(s);
  await cluster.stop();
  const good = [auditRecord(), auditRecord()];
  await s.append([good[0]!]);
  // A role no text column takes (NUL): what the writer replaces, written straight to the store.
  const poison = { ...auditRecord(), agent_id: "a\u0000b" };
  await s.append([poison]);
  await s.append([good[1]!]);
  await cluster.start();
  await waitForBackend(s, "PostgresAuditStore");
  const ids = (await rows("SELECT id FROM audit_log ORDER BY id")).map((r) => r.id);
  // The Postgres audit store makes text storable on its own when it can (last line of defence).
  assert.equal(ids, [...good, poison].map((r) => r.id).sort());
  assert.equal((await rows(`SELECT agent_id FROM audit_log WHERE id = '${poison.id}'`))[0].agent_id, "a\\u0000b");
  assert.not.ok(cap.lines().some((l) => String(l.msg).includes("replay into PostgresAuditStore failed")));
});

test.run();
