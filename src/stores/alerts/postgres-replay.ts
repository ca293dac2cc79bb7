/**
 * What `auto` replays through the Postgres alert store: every alert and receipt exported as rows,
 * rows imported idempotently (the newer copy of an alert wins, a stored receipt is kept), and
 * the tables emptied.
 */
import type { StoredReceipt } from "../../alerts/ingest-plan.js";
import { isNewer, type AlertRow } from "../../alerts/store.js";
import type { AlertRecord } from "../../subjects/index.js";
import { transaction, type Pool, type PoolClient } from "../pg.js";
import { readReceipts } from "./postgres-ingest.js";
import { receiptColumns, splitReceipts, streamKey, toReceipt, toRecord } from "./postgres-rows.js";
import * as SQL from "./postgres-sql.js";

/** Rows per transaction when importing a fallback's rows. */
const IMPORT_CHUNK = 1000;

export async function exportAlertRows(pool: Pool): Promise<AlertRow[]> {
  const alerts = await pool.query("SELECT * FROM alerts ORDER BY created_at, alert_ref");
  const receipts = await pool.query("SELECT * FROM alert_receipts ORDER BY at, receipt_key");
  const batched = await pool.query(SQL.EXPORT_STREAM_RECEIPTS);
  // One row per key, as every backend exports them, whichever table held it.
  const seen = new Set<string>();
  const rows: AlertRow[] = alerts.rows.map((r): AlertRow => ({ kind: "alert", data: toRecord(r) }));
  for (const r of [...receipts.rows, ...batched.rows]) {
    if (seen.has(r.receipt_key)) continue;
    seen.add(r.receipt_key);
    rows.push({ kind: "receipt", data: toReceipt(r) });
  }
  return rows;
}

/** Idempotent; each chunk commits on its own, so a failed import can simply run again. */
export async function importAlertRows(pool: Pool, rows: AlertRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += IMPORT_CHUNK) {
    const chunk = rows.slice(i, i + IMPORT_CHUNK);
    const alerts = new Map<string, AlertRecord>();
    const holders = new Map<string, AlertRecord>();
    const receipts = new Map<string, (AlertRow & { kind: "receipt" })["data"]>();
    for (const row of chunk) {
      if (row.kind === "receipt") {
        if (!receipts.has(row.data.receipt_key)) receipts.set(row.data.receipt_key, row.data);
        continue;
      }
      const a = row.data;
      if (isNewer(a, alerts.get(a.alert_ref))) alerts.set(a.alert_ref, a);
      const h = holders.get(a.fingerprint);
      if (!h || Date.parse(a.dedupe_until) > Date.parse(h.dedupe_until)) holders.set(a.fingerprint, a);
    }
    const ptr = [...holders.values()];
    // The lock order of ingest: alerts (by fingerprint), pointers, receipts.
    await transaction(pool, async (c) => {
      if (alerts.size) await c.query(SQL.UPSERT_ALERTS, [JSON.stringify([...alerts.values()])]);
      if (ptr.length) {
        await c.query(SQL.UPSERT_POINTERS, [ptr.map((a) => a.fingerprint), ptr.map((a) => a.alert_ref), ptr.map((a) => a.dedupe_until)]);
      }
      if (receipts.size) await importReceipts(c, [...receipts.values()]);
    });
  }
}

/** Keyed receipts one row each (a stored key wins); stream receipts not stored yet, one batch row per time. */
async function importReceipts(c: PoolClient, all: StoredReceipt[]): Promise<void> {
  const { keyed } = splitReceipts(all);
  if (keyed.length) await c.query(SQL.INSERT_RECEIPTS, receiptColumns(keyed));
  const streamed = all.filter((r) => streamKey(r.receipt_key));
  if (!streamed.length) return;
  const stored = new Set((await readReceipts(c, streamed.map((r) => r.receipt_key))).map((r) => r.receipt_key));
  const byTime = new Map<string, StoredReceipt[]>();
  for (const r of streamed) {
    if (stored.has(r.receipt_key)) continue;
    const group = byTime.get(r.at) ?? [];
    group.push(r);
    byTime.set(r.at, group);
  }
  for (const [at, group] of byTime) {
    for (const b of splitReceipts(group).batches) await c.query(SQL.INSERT_STREAM_RECEIPTS, [...b, at]);
  }
}

export async function clearAlertRows(pool: Pool): Promise<void> {
  await pool.query("TRUNCATE alerts, alert_fingerprints, alert_receipts, alert_receipt_batches");
}
