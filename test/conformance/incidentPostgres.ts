/**
 * Postgres-only behaviour of the incident store: racing workers, the unique slot index, round
 * trips per absorb, idempotent migration. Uses its own databases and drops them.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createIncidentStore } from "../../src/stores/factory.js";
import { JsonlIncidentStore } from "../../src/stores/incidents/jsonl.js";
import { PostgresIncidentStore } from "../../src/stores/incidents/postgres.js";
import type { AbsorbResult } from "../../src/incidents/store.js";
import { defaultMigrationsDir, migrate } from "../../src/stores/migrate.js";
import { createPool, type Pool } from "../../src/stores/pg.js";
import { captureLogger } from "../harness/logs.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { at, T0 } from "./fixtures.js";
import * as SQL from "../../src/stores/incidents/postgres-sql.js";
import { absorbInput as inp, bridgePolicy, incidentRecord, newIncident } from "./incidentFixtures.js";

export function runIncidentPostgresSpecifics(): void {
  const test = suite("postgres incident specifics");
  const dbs: TestDatabase[] = [];
  const opened: Array<{ close(): Promise<void> }> = [];
  let db: TestDatabase;
  test.before(async () => {
    db = await createTestDatabase();
    dbs.push(db);
  });
  test.after.each(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  test.after(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });
  async function store(url = db.url, pool: Pool = createPool(url, { max: 4 })): Promise<PostgresIncidentStore> {
    const s = new PostgresIncidentStore({ pool });
    opened.push(s);
    await s.init();
    return s;
  }
  async function rawPool(url = db.url): Promise<Pool> {
    const pool = createPool(url, { max: 2 });
    opened.push({ close: () => pool.end() });
    return pool;
  }

  test("two stores on two pools absorbing the same keys in parallel: one incident per signature, each key once", async () => {
    const [a, b] = [await store(), await store()];
    await a.clearRows();
    const sigs = ["s0", "s1", "s2", "s3", "s4"];
    const inputs = Array.from({ length: 500 }, (_, i) => inp(sigs[(i * 7) % sigs.length]!, `k${i}`));
    const batches = (xs: typeof inputs) => Array.from({ length: 10 }, (_, j) => xs.slice(j * 50, j * 50 + 50));
    // Both workers see every alert (a redelivery storm), in different orders, batches interleaved.
    const shuffled = [...inputs].reverse();
    const run = async (s: PostgresIncidentStore, bs: (typeof inputs)[]) => (await Promise.all(bs.map((batch) => s.absorbAlerts(batch, bridgePolicy(), T0)))).flat();
    const [ra, rb] = await Promise.all([run(a, batches(inputs)), run(b, batches(shuffled))]);
    const incidents = await a.list({ limit: 100 });
    assert.equal(incidents.map((i) => i.signature).sort(), sigs, "exactly one incident per signature");
    assert.is(incidents.reduce((n, i) => n + i.alert_count, 0), 500);
    const keyed = (await a.events({ limit: 10_000 })).filter((e) => e.dedupe_key !== undefined);
    assert.is(keyed.length, 500);
    assert.is(new Set(keyed.map((e) => e.dedupe_key)).size, 500);
    const byKey = new Map<string, AbsorbResult[]>();
    inputs.forEach((input, i) => byKey.set(input.dedupe_key, [ra[i]!]));
    shuffled.forEach((input, i) => byKey.get(input.dedupe_key)!.push(rb[i]!));
    for (const [key, [x, y]] of byKey) {
      assert.equal([x!.replayed, y!.replayed].filter((r) => !r).length, 1, key);
      assert.equal({ ...x!, replayed: false }, { ...y!, replayed: false }, key);
    }
    assert.is((await a.listRuns({ limit: 100 })).length, 5, "one triage run per signature");
  });

  test("the unique index refuses a second open holder of a signature", async () => {
    const s = await store();
    await s.clearRows();
    await s.absorbAlerts([inp("sig", "r1")], bridgePolicy(), T0);
    const pool = await rawPool();
    const err = await pool.query(`INSERT INTO incidents (id, service, env, severity, title, status, signature, signature_key,
      started_at, created_at, updated_at, created_by) VALUES ('inc_x', 's', 'prod', 'P2', 't', 'open', 'sig', 'sig', now(), now(), now(), 'x')`)
      .catch((e: unknown) => e);
    assert.is((err as { code?: string }).code, "23505");
  });

  test("create claims its incident id first: an id already taken is not written over (the store draws another)", async () => {
    const s = await store();
    await s.clearRows();
    const held = incidentRecord("inc_20260301_1200_abc123", { title: "the first holder" });
    await s.importRows([{ kind: "incident", data: held }]);
    const pool = await rawPool();
    const claim = await pool.query(SQL.CLAIM_INCIDENT_ID, [JSON.stringify([{ ...held, title: "a second incident drawing the same id" }])]);
    assert.is(claim.rowCount, 0, "the taken id is refused");
    assert.is((await s.get(held.id))?.title, "the first holder");
    const fresh = await s.create(newIncident(), T0);
    assert.equal([fresh.id !== held.id, (await s.get(fresh.id))?.title], [true, "checkout errors"]);
  });

  test("absorbAlerts costs the same few round trips for 5 or 500 alerts", async () => {
    const pool = createPool(db.url, { max: 1 });
    let queries = 0;
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: unknown }).query = (...args: unknown[]) => (queries++, query(...args));
    });
    const s = await store(db.url, pool);
    await s.clearRows();
    const count = async (n: number, tag: string) => {
      queries = 0;
      await s.absorbAlerts(Array.from({ length: n }, (_, i) => inp(`sig-${tag}-${i % 50}`, `${tag}-${i}`)), bridgePolicy(), T0);
      return queries;
    };
    const small = await count(5, "a");
    const large = await count(500, "b");
    assert.is(large, small);
    assert.ok(small <= 6, `${small} round trips`);
  });

  test("auto: the factory's incident store runs on Postgres; JSONL fallback rows replay into it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "opsbus-incidents-auto-"));
    const cap = captureLogger();
    const s = await createIncidentStore({ env: { backend: "auto", databaseUrl: db.url }, opsEnv: "prod", dataDir, logger: cap.logger, retryIntervalMs: 60_000 });
    opened.push({ close: async () => (await s.close(), rmSync(dataDir, { recursive: true, force: true })) });
    assert.is(s.backendName, "PostgresIncidentStore");
    assert.ok(cap.lines().some((l) => l.msg === "incident_store: using PostgresIncidentStore"));
    await s.clearRows();
    const [first] = await s.absorbAlerts([inp("sig", "r1")], bridgePolicy(), T0);
    // What a fallback took during an outage (it knew nothing of Postgres' open incident).
    const fallback = new JsonlIncidentStore({ path: join(dataDir, "fallback.jsonl") });
    await fallback.init();
    await fallback.absorbAlerts([inp("sig", "r2"), inp("other", "r3")], bridgePolicy(), at(5));
    await fallback.appendEvent((await fallback.list({ signature: "sig" }))[0]!.id, { type: "note", message: "n", author: "sofiia" }, at(6));
    const rows = await fallback.exportRows();
    await fallback.close();
    await s.importRows(rows);
    await s.importRows(rows);
    const stored = new Map((await s.exportRows()).flatMap((r) => (r.kind === "event" || r.kind === "run" ? [[r.data.id, r.data] as const] : [])));
    for (const r of rows) if (r.kind === "event" || r.kind === "run") assert.equal(stored.get(r.data.id), r.data, r.kind);
    const holders = (await s.list({ signature: "sig" })).filter((i) => i.signature_key === "sig");
    assert.is(holders.length, 1);
    assert.is.not(holders[0]!.id, first!.incident_id);
    assert.is((await s.events({ limit: 100 })).filter((e) => e.dedupe_key !== undefined).length, 3);
  });

  test("migration 004 is idempotent: applied once, its DDL re-runs cleanly", async () => {
    const fresh = await createTestDatabase();
    dbs.push(fresh);
    const pool = await rawPool(fresh.url);
    const first = await migrate(pool);
    assert.ok(first.applied.includes("004_incidents.sql"));
    assert.equal(await migrate(pool), { applied: [], pending: [], ddl: "" });
    const sql = readFileSync(join(defaultMigrationsDir(), "004_incidents.sql"), "utf8");
    await pool.query(sql);
    await pool.query(sql);
    const tables = await pool.query(`SELECT to_regclass('incidents') a, to_regclass('incident_events') b, to_regclass('incident_artifacts') c,
      to_regclass('incident_signature_state') d, to_regclass('graph_runs') e, to_regclass('incidents_signature_key_idx') f`);
    assert.ok(Object.values(tables.rows[0]).every((v) => v !== null));
    const s = await store(fresh.url);
    const [r] = await s.absorbAlerts([inp("sig", "r1")], bridgePolicy(), T0);
    assert.is((await s.get(r!.incident_id))?.signature_key, "sig");
  });

  test.run();
}
