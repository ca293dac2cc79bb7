/**
 * `auto` against a real, throwaway Postgres cluster that we stop and start: the store moves to its
 * JSONL fallback during the outage and replays everything into Postgres when it is back.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/config/errors.js";
import { JsonlAlertStore } from "../../src/stores/alerts/jsonl.js";
import type { AlertStore } from "../../src/alerts/store.js";
import type { AuditStore } from "../../src/audit/store.js";
import { createAlertStore, createAuditStore, type StoreFactoryOptions } from "../../src/stores/factory.js";
import { auditRecord, item, T0, at } from "../conformance/fixtures.js";
import { captureLogger, type CapturedLogger } from "../harness/logs.js";
import { startPgCluster, type PgClusterHandle } from "../harness/pgCluster.js";
import { waitFor } from "../harness/wait.js";
import { testPool } from "../harness/postgres.js";

const test = suite("auto store");
let cluster: PgClusterHandle;
let direct: pg.Pool;
const dirs: string[] = [];
const open: Array<{ close(): Promise<void> }> = [];

test.before(async () => {
  cluster = await startPgCluster();
  direct = testPool(cluster.url);
  direct.on("error", () => {}); // idle clients die with the cluster
});
test.after.each(async () => {
  await cluster.start(); // a test that failed mid-outage must not leave the next one without Postgres
  await Promise.all(open.splice(0).map((s) => s.close()));
  await direct.query("DROP TABLE IF EXISTS alerts, alert_fingerprints, alert_receipts, audit_log, opsbus_migrations");
});

function options(cap: CapturedLogger): StoreFactoryOptions {
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-auto-"));
  dirs.push(dataDir);
  return { env: { backend: "auto", databaseUrl: cluster.url }, opsEnv: "prod", dataDir, logger: cap.logger, retryIntervalMs: 200 };
}
async function alerts(cap: CapturedLogger, opts = options(cap)): Promise<AlertStore> {
  const s = await createAlertStore(opts);
  open.push(s);
  return s;
}
const using = (cap: CapturedLogger, store: string) => cap.lines().filter((l) => l.msg === `${store}_store: using ${l.backend}`).map((l) => l.backend);
const waitForBackend = (s: { backendName: string }, name: string) =>
  waitFor(() => s.backendName === name, { timeoutMs: 20_000, message: `backend ${name}` });
const rows = async (sql: string) => (await direct.query(sql)).rows;

test("alerts: Postgres → JSONL during an outage → Postgres again, nothing lost or doubled", async () => {
  const cap = captureLogger();
  const opts = options(cap);
  const s = await alerts(cap, opts);
  assert.equal(using(cap, "alert"), ["PostgresAlertStore"]);
  const before = await s.ingestBatch([item("fp-a", { key: "k1" }), item("fp-b", { key: "k2" }), item("fp-a")], T0);

  await cluster.stop();
  const during = await s.ingestBatch([item("fp-c", { key: "k3" }), item("fp-c", { key: "k4" }), item("fp-d", { key: "k5" }), item("fp-c", { key: "k3" })], at(1));
  assert.equal(during.map((r) => [r.occurrences, r.replayed]), [[1, false], [2, false], [1, false], [1, true]]);
  assert.is(s.backendName, "JsonlAlertStore");
  assert.equal(using(cap, "alert"), ["PostgresAlertStore", "JsonlAlertStore"]);
  assert.ok(existsSync(join(opts.dataDir, "fallback", "alerts", "alerts.jsonl")));
  assert.not.ok(existsSync(join(opts.dataDir, "alerts.jsonl")), "the fallback never writes the JSONL store's file");
  // During the outage reads see the fallback only.
  assert.is(await s.get(before[0]!.alert_ref), null);
  const acked = await s.updateState(during[2]!.alert_ref, { status: "new" }, { status: "acked", ack_note: "seen" });
  assert.is(acked?.status, "acked");

  await cluster.start();
  await waitForBackend(s, "PostgresAlertStore");
  assert.equal(using(cap, "alert"), ["PostgresAlertStore", "JsonlAlertStore", "PostgresAlertStore"]);
  assert.ok(cap.lines().some((l) => l.msg === "alert_store: replayed 5 rows from JsonlAlertStore into PostgresAlertStore"));

  const stored = await rows("SELECT fingerprint, occurrences, status FROM alerts ORDER BY fingerprint");
  assert.equal(stored, [
    { fingerprint: "fp-a", occurrences: 2, status: "new" },
    { fingerprint: "fp-b", occurrences: 1, status: "new" },
    { fingerprint: "fp-c", occurrences: 2, status: "new" },
    { fingerprint: "fp-d", occurrences: 1, status: "acked" },
  ]);
  assert.equal((await rows("SELECT receipt_key FROM alert_receipts ORDER BY 1")).map((r) => r.receipt_key), ["k1", "k2", "k3", "k4", "k5"]);
  assert.is(readFileSync(join(opts.dataDir, "fallback", "alerts", "alerts.jsonl"), "utf8"), "", "fallback emptied");
  // Back on Postgres, with the outage's alerts, pointers and receipts in place.
  const [again, replay] = await s.ingestBatch([item("fp-c"), item("fp-c", { key: "k4" })], at(2));
  assert.equal([again?.alert_ref, again?.occurrences], [during[0]?.alert_ref, 3]);
  assert.equal([replay?.replayed, replay?.occurrences], [true, 2]);
  assert.ok(await s.get(before[0]!.alert_ref));
});

test("audit: records appended during an outage reach Postgres once", async () => {
  const cap = captureLogger();
  const s: AuditStore = await createAuditStore(options(cap));
  open.push(s);
  assert.equal(using(cap, "audit"), ["PostgresAuditStore"]);
  const first = [auditRecord(), auditRecord()];
  await s.append(first);
  await cluster.stop();
  const outage = [auditRecord(), auditRecord(), auditRecord()];
  await s.append(outage);
  assert.equal(using(cap, "audit"), ["PostgresAuditStore", "JsonlAuditStore"]);
  assert.equal((await s.query({})).map((r) => r.id), outage.map((r) => r.id));
  await cluster.start();
  await waitForBackend(s, "PostgresAuditStore");
  const ids = (await rows("SELECT id FROM audit_log ORDER BY id")).map((r) => r.id);
  assert.equal(ids, [...first, ...outage].map((r) => r.id).sort());
  assert.is((await s.query({ limit: 10 })).length, 5);
});

test("Postgres down at start: runs on the fallback, migrates and replays when it comes up", async () => {
  await cluster.stop();
  const cap = captureLogger();
  const s = await alerts(cap);
  assert.is(s.backendName, "JsonlAlertStore");
  assert.equal(using(cap, "alert"), ["JsonlAlertStore"]);
  assert.ok(cap.lines().some((l) => l.level === 40 && String(l.msg).includes("unreachable at start")));
  const [r] = await s.ingestBatch([item("fp-z"), item("fp-z")], T0);
  await cluster.start();
  await waitForBackend(s, "PostgresAlertStore");
  assert.equal(await rows("SELECT alert_ref, occurrences FROM alerts"), [{ alert_ref: r!.alert_ref, occurrences: 2 }]);
});

test("rows a previous process left in the fallback are replayed at start", async () => {
  const cap = captureLogger();
  const opts = options(cap);
  const leftover = new JsonlAlertStore({ path: join(opts.dataDir, "fallback", "alerts", "alerts.jsonl") });
  await leftover.init();
  const [r] = await leftover.ingestBatch([item("fp-left", { key: "kl" })], T0);
  await leftover.close();
  const s = await alerts(cap, opts);
  assert.is(s.backendName, "PostgresAlertStore");
  assert.equal(await rows("SELECT alert_ref FROM alerts"), [{ alert_ref: r!.alert_ref }]);
  assert.ok(cap.lines().some((l) => l.msg === "alert_store: replayed 2 rows from JsonlAlertStore into PostgresAlertStore"));
});

test("a replay that fails keeps the fallback and its rows, and is retried", async () => {
  const cap = captureLogger();
  const s = await alerts(cap);
  // The import will fail (and not with a connection error) until the table is back.
  await direct.query("ALTER TABLE alert_receipts RENAME TO alert_receipts_away");
  await cluster.stop();
  await s.ingestBatch([item("fp-r"), item("fp-r", { key: "kr" })], T0);
  await cluster.start();
  await waitFor(() => cap.lines().some((l) => String(l.msg).includes("replay into PostgresAlertStore failed")), { timeoutMs: 20_000 });
  assert.is(s.backendName, "JsonlAlertStore");
  await direct.query("ALTER TABLE alert_receipts_away RENAME TO alert_receipts");
  await waitForBackend(s, "PostgresAlertStore");
  assert.equal(await rows("SELECT fingerprint, occurrences FROM alerts"), [{ fingerprint: "fp-r", occurrences: 2 }]);
});

test.run();

const factory = suite("store factory");
factory.after.each(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

factory("memory is refused in prod; postgres without a DSN is refused; both say which variable", async () => {
  const cap = captureLogger();
  const base = { dataDir: tmpdir(), logger: cap.logger, retryIntervalMs: 1000 };
  const memory = await createAlertStore({ ...base, opsEnv: "prod", env: { backend: "memory", databaseUrl: undefined } }).catch((e: Error) => e);
  assert.instance(memory, ConfigError);
  assert.match((memory as Error).message, /ALERT_BACKEND=memory is refused when OPS_ENV=prod/);
  const nodsn = await createAuditStore({ ...base, opsEnv: "dev", env: { backend: "postgres", databaseUrl: undefined } }).catch((e: Error) => e);
  assert.instance(nodsn, ConfigError);
  assert.match((nodsn as Error).message, /AUDIT_BACKEND=postgres needs AUDIT_DATABASE_URL or DATABASE_URL/);
  const dev = await createAlertStore({ ...base, opsEnv: "dev", env: { backend: "memory", databaseUrl: undefined } });
  open.push(dev);
  assert.is(dev.backendName, "MemoryAlertStore");
});

factory("jsonl, and auto without a DSN, use <dataDir>/<store>.jsonl and log it", async () => {
  const cap = captureLogger();
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-factory-"));
  dirs.push(dataDir);
  const base = { dataDir, logger: cap.logger, retryIntervalMs: 1000, opsEnv: "prod" as const };
  const a = await createAlertStore({ ...base, env: { backend: "auto", databaseUrl: undefined } });
  const b = await createAuditStore({ ...base, env: { backend: "jsonl", databaseUrl: undefined } });
  open.push(a, b);
  assert.equal([a.backendName, b.backendName], ["JsonlAlertStore", "JsonlAuditStore"]);
  assert.equal([...using(cap, "alert"), ...using(cap, "audit")], ["JsonlAlertStore", "JsonlAuditStore"]);
  await a.ingestBatch([item("fp-f")], T0);
  await b.append([auditRecord()]);
  assert.ok(existsSync(join(dataDir, "alerts.jsonl")) && existsSync(join(dataDir, "audit.jsonl")));
});

factory("postgres: the DSN is logged masked, never with its password", async () => {
  const cap = captureLogger();
  const url = new URL(cluster.url);
  url.password = "s3cret-pw"; // trust auth ignores it
  const s = await createAlertStore({ dataDir: tmpdir(), logger: cap.logger, retryIntervalMs: 1000, opsEnv: "prod", env: { backend: "postgres", databaseUrl: url.toString() } });
  open.push(s);
  assert.is(s.backendName, "PostgresAlertStore");
  assert.not.match(cap.text(), /s3cret-pw/);
  const selected = cap.lines().find((l) => String(l.msg).startsWith("alert_store: backend postgres"));
  assert.match(String(selected?.msg), /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
  assert.equal(using(cap, "alert"), ["PostgresAlertStore"]);
});

factory.after(async () => {
  await direct.end();
  await cluster.destroy();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

factory.run();
