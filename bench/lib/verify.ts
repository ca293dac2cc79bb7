/**
 * Reads back what the ingest worker stored and checks nothing was lost or doubled: every
 * fingerprint is one alert, and the occurrences add up to every alert published.
 */
import pg from "pg";
import { createLogger } from "../../src/log.js";
import { createAlertStore } from "../../src/stores/factory.js";

export interface StoredCounts {
  alerts: number;
  occurrences: number;
  receipts: number;
}

export class DataLossError extends Error {
  override readonly name = "DataLossError";
}

export async function countPostgres(url: string): Promise<StoredCounts> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    const a = await client.query<{ n: string; occ: string | null }>("SELECT count(*) AS n, sum(occurrences) AS occ FROM alerts");
    // Stream receipts are stored one row per batch (003), others one row per key.
    const r = await client.query<{ n: string }>(
      "SELECT (SELECT count(*) FROM alert_receipts) + (SELECT coalesce(sum(cardinality(seqs)), 0) FROM alert_receipt_batches) AS n",
    );
    return { alerts: Number(a.rows[0]!.n), occurrences: Number(a.rows[0]!.occ ?? 0), receipts: Number(r.rows[0]!.n) };
  } finally {
    await client.end();
  }
}

/** Opens `<dataDir>/alerts.jsonl` the way the worker did (it must have exited: one process per file). */
export async function countJsonl(dataDir: string): Promise<StoredCounts> {
  const store = await createAlertStore({
    env: { backend: "jsonl", databaseUrl: undefined },
    opsEnv: "dev",
    dataDir,
    logger: createLogger({ level: "warn" }),
    retryIntervalMs: 60_000,
  });
  try {
    const counts: StoredCounts = { alerts: 0, occurrences: 0, receipts: 0 };
    for (const row of await store.exportRows()) {
      if (row.kind === "alert") {
        counts.alerts += 1;
        counts.occurrences += row.data.occurrences;
      } else counts.receipts += 1;
    }
    return counts;
  } finally {
    await store.close();
  }
}

export function assertComplete(where: string, got: StoredCounts, want: { alerts: number; occurrences: number }): void {
  if (got.alerts !== want.alerts || got.occurrences !== want.occurrences) {
    throw new DataLossError(
      `${where}: stored ${got.alerts} alerts with ${got.occurrences} occurrences; ` +
        `expected ${want.alerts} alerts with ${want.occurrences} occurrences`,
    );
  }
}
