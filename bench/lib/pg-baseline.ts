/**
 * The Postgres limit every Postgres-backed figure is read against, measured in the same run on
 * the same server: batched upserts (500 rows per statement, one transaction each) of a narrow
 * counter row, with the ingest workload's key spread, so most rows are updates as in ingest.
 */
import pg from "pg";
import { performance } from "node:perf_hooks";
import { createTestDatabase } from "../../test/harness/postgres.js";
import type { RateFigure } from "./baselines.js";
import { progress } from "./progress.js";
import { rate } from "./stats.js";

const UPSERT = `
  INSERT INTO bench_upsert (k, n, last_seen)
  SELECT k, 1, $2::timestamptz FROM unnest($1::text[]) AS u(k) ORDER BY 1
  ON CONFLICT (k) DO UPDATE SET n = bench_upsert.n + 1, last_seen = EXCLUDED.last_seen`;

export async function pgUpsertRate(rows: number, keys: number, batch = 500): Promise<RateFigure> {
  const db = await createTestDatabase();
  const client = new pg.Client({ connectionString: db.url });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query("CREATE TABLE bench_upsert (k text PRIMARY KEY, n integer NOT NULL, last_seen timestamptz NOT NULL)");
    // Each batch holds distinct keys (an ON CONFLICT statement may not touch a row twice), walking the key space.
    const batchKeys = (b: number) => Array.from({ length: batch }, (_, i) => `bench-key-${((b * batch + i) % keys).toString().padStart(6, "0")}`);
    const batches = Math.ceil(rows / batch);
    const bar = progress(`baseline: Postgres upserting ${rows} rows, ${batch} per statement`, batches);
    const t0 = performance.now();
    for (let b = 0; b < batches; b++) {
      await client.query(UPSERT, [batchKeys(b), new Date().toISOString()]);
      if ((b & 15) === 0) bar.update(b);
    }
    const elapsed = performance.now() - t0;
    bar.finish();
    return { count: batches * batch, elapsed_ms: elapsed, per_sec: rate(batches * batch, elapsed) };
  } finally {
    await client.end().catch(() => undefined);
    await db.drop();
  }
}
