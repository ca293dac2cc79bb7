import { suite } from "uvu";
import * as assert from "uvu/assert";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { PostgresAlertStore } from "../../src/stores/alerts/postgres.js";
import type { IngestResult } from "../../src/alerts/store.js";
import { PostgresAuditStore } from "../../src/stores/audit/postgres.js";
import { PostgresIncidentStore } from "../../src/stores/incidents/postgres.js";
import { loadMigrations, migrate } from "../../src/stores/migrate.js";
import { createPool, isConnectionError, type Pool } from "../../src/stores/pg.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { runAlertStoreConformance } from "./alertStore.js";
import { runAuditStoreConformance } from "./auditStore.js";
import { backlogBackends, runBacklogStoreConformance } from "./backlogStore.js";
import { jobLedgerBackends, runJobLedgerConformance } from "./jobLedger.js";
import { runIncidentPostgresSpecifics } from "./incidentPostgres.js";
import { runIncidentStoreConformance } from "./incidentStore.js";
import { at, item, T0 } from "./fixtures.js";
import { riskHistoryBackends, runRiskHistoryStoreConformance } from "./riskHistoryStore.js";
import { runWindowReadConformance } from "./windowReads.js";

const db = await createTestDatabase();
const extraDbs: TestDatabase[] = [];

runAlertStoreConformance("postgres", async () => {
  const store = new PostgresAlertStore({ pool: createPool(db.url) });
  await store.init();
  await store.clearRows();
  return { store, cleanup: () => store.close() };
});

runAuditStoreConformance("postgres", async () => {
  const store = new PostgresAuditStore({ pool: createPool(db.url) });
  await store.init();
  await store.clearRows();
  return { store, cleanup: () => store.close() };
});

runIncidentStoreConformance("postgres", async () => {
  const store = new PostgresIncidentStore({ pool: createPool(db.url) });
  await store.init();
  await store.clearRows();
  return { store, cleanup: () => store.close() };
});
runIncidentPostgresSpecifics();
runWindowReadConformance(
  "postgres",
  async () => {
    const store = new PostgresIncidentStore({ pool: createPool(db.url) });
    await store.init();
    await store.clearRows();
    return { store, cleanup: () => store.close() };
  },
  async () => {
    const store = new PostgresAlertStore({ pool: createPool(db.url) });
    await store.init();
    await store.clearRows();
    return { store, cleanup: () => store.close() };
  },
);
runBacklogStoreConformance("postgres", backlogBackends.postgres(db.url));
runJobLedgerConformance("postgres", jobLedgerBackends.postgres(db.url));
runRiskHistoryStoreConformance("postgres", riskHistoryBackends.postgres(db.url));

const test = suite("postgres specifics");
const opened: Array<{ close(): Promise<void> }> = [];
async function alertStore(url = db.url): Promise<PostgresAlertStore> {
  const store = new PostgresAlertStore({ pool: createPool(url, { max: 4 }) });
  opened.push(store);
  await store.init();
  return store;
}
async function rawPool(url: string): Promise<Pool> {
  const pool = createPool(url, { max: 2 });
  opened.push({ close: () => pool.end() });
  return pool;
}
test.after.each(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
test.after(async () => {
  await Promise.all([db, ...extraDbs].map((d) => d.drop()));
});

test("two stores on two pools ingesting the same fingerprints in parallel: one alert each, exact counts", async () => {
  const [a, b] = [await alertStore(), await alertStore()];
  await a.clearRows();
  const fps = Array.from({ length: 40 }, (_, i) => `race-${i}`);
  const batch = (seed: number) => Array.from({ length: 250 }, (_, i) => item(fps[(i * 7 + seed * 13) % fps.length]!, { ttl: 600 }));
  const runs: Array<Promise<IngestResult[]>> = [];
  for (let round = 0; round < 4; round++) {
    for (const [n, store] of [a, b].entries()) runs.push(store.ingestBatch(batch(round * 2 + n), at(round)));
  }
  const results = (await Promise.all(runs)).flat();
  assert.is(results.length, 8 * 250);

  const rows = await a.list({ limit: 500, window_minutes: 600 }, at(4));
  assert.equal(rows.map((r) => r.fingerprint).sort(), [...fps].sort(), "exactly one alert per fingerprint");
  assert.is(rows.reduce((sum, r) => sum + r.occurrences, 0), results.length);
  // Every count was handed out exactly once per alert: 1..N with no gap or repeat.
  for (const r of rows) {
    const seen = results.filter((x) => x.alert_ref === r.alert_ref).map((x) => x.occurrences).sort((p, q) => p - q);
    assert.equal(seen, Array.from({ length: r.occurrences }, (_, i) => i + 1), r.fingerprint);
  }
  assert.is(results.filter((x) => x.created).length, fps.length);
});

test("the same receipt keys from two processes at once are counted once", async () => {
  const [a, b] = [await alertStore(), await alertStore()];
  await a.clearRows();
  const items = Array.from({ length: 300 }, (_, i) => item(`fp-${i % 10}`, { key: `OPS_ALERTS@1:${i}` }));
  const reversed = [...items].reverse();
  const [ra, rb] = await Promise.all([a.ingestBatch(items, T0), b.ingestBatch(reversed, T0)]);
  const all = [...ra, ...rb];
  assert.is(all.filter((r) => !r.replayed).length, 300);
  const total = (await a.list({}, T0)).reduce((sum, r) => sum + r.occurrences, 0);
  assert.is(total, 300);
  // Whichever side counted a key, the other side got the same result back as a replay.
  for (let i = 0; i < items.length; i++) {
    const x = ra[i]!;
    const y = rb[items.length - 1 - i]!;
    assert.equal({ ...x, replayed: false }, { ...y, replayed: false });
    assert.ok(x.replayed !== y.replayed);
  }
});

test("two workers holding interleaved, overlapping stream sequences count each message once", async () => {
  const [a, b] = [await alertStore(), await alertStore()];
  await a.clearRows();
  const key = (seq: number) => `OPS_ALERTS@1:${seq}`;
  const batch = (seqs: number[]) => seqs.map((seq) => item(`fp-${seq % 25}`, { key: key(seq) }));
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  // Redelivery after an expired ack_wait: b holds part of what a holds, and a later run of its own.
  const runs = [a.ingestBatch(batch([...range(1, 100), ...range(201, 300)]), T0), b.ingestBatch(batch([...range(150, 250), ...range(301, 320)]), T0)];
  runs.push(a.ingestBatch(batch(range(90, 160)), T0));
  const all = (await Promise.all(runs)).flat();
  assert.is(all.filter((r) => !r.replayed).length, 320);
  assert.is((await a.list({ limit: 100 }, T0)).reduce((sum, r) => sum + r.occurrences, 0), 320);
  const receipts = (await a.exportRows()).filter((r) => r.kind === "receipt");
  assert.is(receipts.length, 320);
  const replay = await b.ingestBatch(batch([5, 155, 305]), at(1));
  assert.ok(replay.every((r) => r.replayed));
});

test("003 moves stream receipts stored one row per key (001) into batch rows; redeliveries still replay", async () => {
  const pool = await rawPool(db.url);
  const s = await alertStore();
  await s.clearRows();
  const [r] = await s.ingestBatch([item("fp-old")], T0);
  // What a store before 003 wrote: a row per key in alert_receipts.
  await pool.query(
    `INSERT INTO alert_receipts (receipt_key, alert_ref, deduped, occurrences, created, at)
     SELECT 'OPS_ALERTS@1:' || n, $1, n > 1, n, n = 1, $2 FROM generate_series(1, 1500) AS n`,
    [r!.alert_ref, T0.toISOString()],
  );
  await pool.query("INSERT INTO alert_receipts (receipt_key, alert_ref, at) VALUES ('tool:keep', $1, $2)", [r!.alert_ref, T0.toISOString()]);
  await pool.query("DELETE FROM opsbus_migrations WHERE id = 3");
  await migrate(pool);
  await migrate(pool);
  assert.equal((await pool.query("SELECT receipt_key FROM alert_receipts")).rows, [{ receipt_key: "tool:keep" }]);
  const batches = await pool.query("SELECT lo, hi, cardinality(seqs) AS n FROM alert_receipt_batches ORDER BY lo");
  assert.equal(batches.rows.map((x) => [Number(x.lo), Number(x.hi), x.n]), [[1, 999, 999], [1000, 1500, 501]]);
  const replay = await s.ingestBatch([item("fp-old", { key: "OPS_ALERTS@1:1000" }), item("fp-old", { key: "tool:keep" }), item("fp-old", { key: "OPS_ALERTS@1:1501" })], T0);
  assert.equal(replay.map((x) => [x.replayed, x.occurrences]), [[true, 1000], [true, 0], [false, 2]]);
  assert.is((await s.exportRows()).filter((x) => x.kind === "receipt").length, 1502);
});

test("batch message entries: one receipt row per message; 015 moves entry receipts an earlier version kept one row each into batch rows, and they still replay", async () => {
  const pool = await rawPool(db.url);
  const s = await alertStore();
  await s.clearRows();
  const entry = (seq: number, i: number) => `OPS_ALERTS@1:${seq}:${i}`;
  const first = await s.ingestBatch([0, 1, 2].map((i) => item(`fp-${i}`, { key: entry(7, i) })), T0);
  const rows = async () => (await pool.query("SELECT stream, seqs FROM alert_receipt_batches ORDER BY id")).rows.map((r) => [r.stream, r.seqs.map(Number)]);
  assert.equal(await rows(), [["OPS_ALERTS@1:7", [0, 1, 2]]]);
  // What an earlier version wrote for entries of message 8: a row per key in alert_receipts.
  await pool.query(
    `INSERT INTO alert_receipts (receipt_key, alert_ref, deduped, occurrences, created, at) VALUES ($1, $2, true, 5, false, $3), ($4, $2, true, 6, false, $3), ('tool:keep', $2, false, 1, true, $3)`,
    [entry(8, 0), first[0]!.alert_ref, T0.toISOString(), entry(8, 2)],
  );
  await pool.query("DELETE FROM opsbus_migrations WHERE id = 15");
  await migrate(pool);
  await migrate(pool);
  assert.equal((await pool.query("SELECT receipt_key FROM alert_receipts")).rows, [{ receipt_key: "tool:keep" }]);
  assert.equal(await rows(), [["OPS_ALERTS@1:7", [0, 1, 2]], ["OPS_ALERTS@1:8", [0, 2]]]);
  // Redelivered: message 7 and message 8's moved rows replay; entry 8:1 and 9:0 are new.
  const again = await s.ingestBatch([item("fp-0", { key: entry(7, 0) }), item("fp-0", { key: entry(8, 0) }), item("fp-1", { key: entry(8, 1) }), item("fp-0", { key: entry(8, 2) }), item("fp-2", { key: entry(9, 0) })], at(1));
  assert.equal(again.map((x) => [x.replayed, x.occurrences]), [[true, 1], [true, 5], [false, 2], [true, 6], [false, 2]]);
  assert.is((await s.list({}, at(1))).reduce((n, r) => n + r.occurrences, 0), 5);
  const keys = (await s.exportRows()).flatMap((x) => (x.kind === "receipt" ? [x.data.receipt_key] : [])).sort();
  assert.equal(keys, [entry(7, 0), entry(7, 1), entry(7, 2), entry(8, 0), entry(8, 1), entry(8, 2), entry(9, 0), "tool:keep"]);
});

test("importing newer fallback rows moves the fingerprint pointer to the imported alert", async () => {
  const pg = await alertStore();
  await pg.clearRows();
  const [old] = await pg.ingestBatch([item("fp-x", { ttl: 30 })], T0);
  const fallback = new MemoryAlertStore();
  const [fresh] = await fallback.ingestBatch([item("fp-x", { ttl: 30 }), item("fp-x", { ttl: 30 })], at(5));
  await pg.importRows(await fallback.exportRows());
  await pg.importRows(await fallback.exportRows());
  assert.is((await pg.get(old!.alert_ref))?.occurrences, 1);
  assert.is((await pg.get(fresh!.alert_ref))?.occurrences, 2);
  const [next] = await pg.ingestBatch([item("fp-x")], at(6));
  assert.equal([next?.alert_ref, next?.occurrences], [fresh?.alert_ref, 3]);
  // An older import does not take the pointer back.
  const older = new MemoryAlertStore();
  await older.ingestBatch([item("fp-x", { ttl: 30 })], at(-5));
  await pg.importRows(await older.exportRows());
  const [after] = await pg.ingestBatch([item("fp-x")], at(7));
  assert.is(after?.alert_ref, fresh?.alert_ref);
});

test("alerts deleted by hand (a retention cron) leave pointers that ingest treats as free", async () => {
  const pool = await rawPool(db.url);
  const s = await alertStore();
  await s.clearRows();
  const [a] = await s.ingestBatch([item("fp-d", { ttl: 600 }), item("fp-e", { ttl: 600 })], T0);
  await pool.query("DELETE FROM alerts WHERE fingerprint = 'fp-d'");
  const rs = await s.ingestBatch([item("fp-d"), item("fp-e"), item("fp-d")], at(1));
  assert.equal(rs.map((r) => [r.created, r.occurrences]), [[true, 1], [false, 2], [false, 2]]);
  assert.is.not(rs[0]?.alert_ref, a?.alert_ref);
  assert.is((await s.get(rs[0]!.alert_ref))?.occurrences, 2);
});

test("migrations: dry run prints the DDL and applies nothing; apply is idempotent and serialised", async () => {
  const fresh = await createTestDatabase();
  extraDbs.push(fresh);
  const pool = await rawPool(fresh.url);
  const logged: string[] = [];
  const dry = await migrate(pool, { dryRun: true, log: (l) => logged.push(l) });
  const names = (await loadMigrations()).map((m) => m.name);
  assert.equal(names.slice(0, 2), ["001_alerts.sql", "002_audit.sql"]);
  assert.equal(dry.pending, names);
  assert.equal(dry.applied, []);
  assert.match(dry.ddl, /-- 001_alerts\.sql\n[\s\S]*CREATE TABLE IF NOT EXISTS alerts/);
  assert.match(dry.ddl, /CREATE TABLE IF NOT EXISTS audit_log/);
  assert.ok(logged.some((l) => l.includes("CREATE TABLE IF NOT EXISTS alert_receipts")));
  const exists = async (t: string) => (await pool.query("SELECT to_regclass($1) AS t", [t])).rows[0].t !== null;
  assert.equal([await exists("alerts"), await exists("opsbus_migrations")], [false, false]);

  const other = await rawPool(fresh.url);
  const [first, second] = await Promise.all([migrate(pool), migrate(other)]);
  assert.equal([...first.applied, ...second.applied].sort(), [...names].sort(), "each migration applied exactly once");
  for (const t of ["alerts", "alert_fingerprints", "alert_receipts", "audit_log"]) assert.ok(await exists(t), t);
  const tracked = await pool.query("SELECT id, name, applied_at FROM opsbus_migrations ORDER BY id");
  assert.equal(tracked.rows.map((r) => r.name), names);
  assert.ok(tracked.rows.every((r) => r.applied_at instanceof Date));

  assert.equal(await migrate(pool), { applied: [], pending: [], ddl: "" });
  assert.equal((await migrate(pool, { dryRun: true })).pending, []);
  for (const m of await loadMigrations()) await pool.query(m.sql); // the DDL itself re-runs cleanly
});

test("constraints reject bad status and severity", async () => {
  const pool = await rawPool(db.url);
  const s = await alertStore();
  await s.clearRows();
  const [r] = await s.ingestBatch([item("fp-c")], T0);
  for (const [col, bad] of [["status", "weird"], ["severity", "P9"]] as const) {
    const err = await pool.query(`UPDATE alerts SET ${col} = $1 WHERE alert_ref = $2`, [bad, r!.alert_ref]).catch((e: unknown) => e);
    assert.is((err as { code?: string }).code, "23514", col);
  }
});

test("isConnectionError: refused and terminated connections yes, SQL errors no", async () => {
  const dead = createPool("postgres://postgres@127.0.0.1:1/none", { connectTimeoutMs: 2000 });
  const refused = await dead.query("SELECT 1").catch((e: unknown) => e);
  await dead.end();
  assert.ok(isConnectionError(refused), String(refused));
  assert.ok(isConnectionError(new Error("Connection terminated unexpectedly")));
  assert.ok(isConnectionError(Object.assign(new Error("x"), { code: "57P01" })));
  assert.ok(isConnectionError(Object.assign(new Error("x"), { code: "08006" })));
  assert.ok(isConnectionError(new Error("timeout exceeded when trying to connect")));
  const pool = await rawPool(db.url);
  const syntax = await pool.query("SELEC 1").catch((e: unknown) => e);
  assert.not.ok(isConnectionError(syntax));
  assert.not.ok(isConnectionError(Object.assign(new Error("x"), { code: "40P01" })));
});

test.run();
