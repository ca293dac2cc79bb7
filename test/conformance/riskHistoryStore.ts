/** The RiskHistoryStore contract, run against every backend. Each test gets a fresh, empty store. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { createPool } from "../../src/stores/pg.js";
import { JsonlRiskHistoryStore } from "../../src/stores/risk/jsonl.js";
import { MemoryRiskHistoryStore } from "../../src/stores/risk/memory.js";
import { PostgresRiskHistoryStore } from "../../src/stores/risk/postgres.js";
import { riskSnapshotId, type RiskHistoryStore, type RiskSnapshot } from "../../src/risk/store.js";
import type { MakeStore, StoreHandle } from "./fixtures.js";

const H0 = Date.parse("2026-03-01T12:00:00.000Z");
/** The start of hour H0 + n hours. */
const hourAt = (n: number) => new Date(H0 + n * 3_600_000).toISOString();

export function snapshot(service: string, hours: number, score: number, over: Partial<RiskSnapshot> = {}): RiskSnapshot {
  const env = over.env ?? "prod";
  const hour = hourAt(hours);
  return {
    id: riskSnapshotId(env, service, hour),
    env,
    service,
    hour,
    ts: new Date(Date.parse(hour) + 60_000).toISOString(),
    score,
    band: score >= 50 ? "high" : score >= 20 ? "medium" : "low",
    attribution: [{ factor: "open_incidents", points: score, value: 1, max: 40, detail: "1×P1" }],
    ...over,
  };
}

async function ready(store: RiskHistoryStore, clear = false): Promise<StoreHandle<RiskHistoryStore>> {
  await store.init();
  if (clear) await store.clearRows();
  return { store, cleanup: () => store.close() };
}

/** One maker per backend, so each suite file adds the contract with one call. */
export const riskHistoryBackends = {
  memory: (): MakeStore<RiskHistoryStore> => () => ready(new MemoryRiskHistoryStore()),
  jsonl: (tempDir: () => string): MakeStore<RiskHistoryStore> => () => ready(new JsonlRiskHistoryStore({ path: join(tempDir(), "risk_history.jsonl") })),
  postgres: (url: string): MakeStore<RiskHistoryStore> => () => ready(new PostgresRiskHistoryStore({ pool: createPool(url) }), true),
};

export function runRiskHistoryStoreConformance(name: string, makeStore: MakeStore<RiskHistoryStore>): void {
  const test = suite(`${name} RiskHistoryStore`);
  let h: StoreHandle<RiskHistoryStore> | undefined;
  const open = async () => (h = await makeStore()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });
  const ids = (rs: RiskSnapshot[]) => rs.map((r) => r.id);

  test("put then list returns the snapshots oldest hour first (then env, service), fields intact", async () => {
    const s = await open();
    const a = snapshot("gateway", 2, 35.5);
    const b = snapshot("auth", 2, 10);
    const c = snapshot("gateway", 1, 12.25, { env: "staging", band: "low" });
    const put = await s.put([a, b, c]);
    assert.equal([put.inserted.sort(), put.existing], [[a.id, b.id, c.id].sort(), []]);
    const all = await s.list({});
    assert.equal(ids(all), [c.id, b.id, a.id]);
    assert.equal(all[2], a);
    assert.equal(all[0], c);
    assert.equal(await s.put([]), { inserted: [], existing: [] });
  });

  test("put is idempotent per (env, service, hour): the first snapshot wins, also within one call", async () => {
    const s = await open();
    const first = snapshot("gateway", 0, 40);
    await s.put([first]);
    const again = await s.put([snapshot("gateway", 0, 99), snapshot("gateway", 1, 5), snapshot("gateway", 1, 6)]);
    assert.equal(again.existing.sort(), [first.id, snapshot("gateway", 1, 0).id].sort());
    assert.equal(again.inserted, [snapshot("gateway", 1, 0).id]);
    assert.equal((await s.list({})).map((x) => x.score), [40, 5]);
  });

  test("list filters: env, service, since inclusive, until exclusive, limit", async () => {
    const s = await open();
    const rows = [0, 1, 2, 3].map((n) => snapshot("gateway", n, n));
    const other = snapshot("auth", 1, 7, { env: "staging" });
    await s.put([...rows, other]);
    assert.equal(ids(await s.list({ service: "gateway", since: hourAt(1), until: hourAt(3) })), [rows[1]!.id, rows[2]!.id]);
    assert.equal(ids(await s.list({ env: "staging" })), [other.id]);
    assert.equal(ids(await s.list({ limit: 2 })), [rows[0]!.id, rows[1]!.id]);
    assert.is((await s.list({ limit: 0 })).length, 0);
  });

  test("latestAt: per (env, service) the latest hour at or before the instant", async () => {
    const s = await open();
    await s.put([snapshot("gateway", 0, 10), snapshot("gateway", 5, 50), snapshot("auth", 2, 20), snapshot("auth", 9, 90), snapshot("gateway", 3, 30, { env: "staging" })]);
    const at4 = await s.latestAt(hourAt(4));
    assert.equal(at4.map((x) => [x.env, x.service, x.score]).sort(), [["prod", "auth", 20], ["prod", "gateway", 10], ["staging", "gateway", 30]]);
    assert.equal((await s.latestAt(hourAt(5), { env: "prod", service: "gateway" })).map((x) => x.score), [50], "inclusive");
    assert.equal(await s.latestAt(new Date(H0 - 1).toISOString()), []);
  });

  test("countOlderThan and purgeOlderThan remove exactly the hours before the cutoff", async () => {
    const s = await open();
    await s.put([0, 1, 2, 3, 4].map((n) => snapshot("gateway", n, n)));
    const cutoff = new Date(hourAt(2));
    assert.is(await s.countOlderThan(cutoff), 2);
    assert.is(await s.purgeOlderThan(cutoff), 2);
    assert.is(await s.purgeOlderThan(cutoff), 0);
    assert.equal((await s.list({})).map((x) => x.score), [2, 3, 4]);
  });

  test("export, clear and import round-trip; importing twice changes nothing", async () => {
    const s = await open();
    const rows = [snapshot("gateway", 0, 1), snapshot("auth", 1, 2)];
    await s.put(rows);
    const exported = await s.exportRows();
    assert.equal(exported.map((r) => r.kind), ["risk", "risk"]);
    await s.clearRows();
    assert.equal(await s.list({}), []);
    await s.importRows(exported);
    await s.importRows(exported);
    assert.equal(ids(await s.list({})), ids(rows));
  });

  test.run();
}
