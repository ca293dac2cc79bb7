/**
 * Ingest into the Postgres alert store. Safe and fast with several processes ingesting at once;
 * per batch, one transaction of a few set-based statements:
 * 1. count the items on each fingerprint's open alert, in one UPDATE through the pointers
 *    (`alert_fingerprints`), locking those alerts in fingerprint order;
 * 2. fingerprints without an open alert: point them at new alert refs chosen here (locking the
 *    pointer rows, sorted);
 * 3. `planIngest` (the same rules as every backend) gives results, new alerts and receipts;
 * 4. one statement writes the new alerts and the receipts: stream receipts (the worker's
 *    `<stream>@<created>:<seq>` keys) as one `alert_receipt_batches` row listing the batch's
 *    sequences, other keys one `alert_receipts` row each.
 * Batches sharing an alert or a new fingerprint serialise on it, and only those. A lost race (a
 * receipt key already recorded, a fingerprint opened by another batch) rolls the transaction
 * back to run again; receipts are only read then, since redeliveries are the exception. Two
 * batches holding the same message share its fingerprint, so the later one's write sees the
 * earlier one's receipt (see WRITE_INGEST).
 */
import { newAlertRef } from "../../ids.js";
import { planIngest, type Holder, type StoredReceipt } from "../../alerts/ingest-plan.js";
import type { IngestItem, IngestResult } from "../../alerts/store.js";
import { RetryTransaction, transaction, type Pool, type PoolClient } from "../pg.js";
import { NO_STREAM_BATCH, splitReceipts, streamKey, toReceipt } from "./postgres-rows.js";
import * as SQL from "./postgres-sql.js";

const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];

/**
 * The two statements of every ingest batch run as named (prepared) statements: each connection
 * parses and plans them once instead of per batch (~4% of a batch's time alone).
 */
const COUNT_OPEN = { name: "alerts.count_open", text: SQL.COUNT_OPEN } as const;
const WRITE_INGEST = { name: "alerts.write_ingest", text: SQL.WRITE_INGEST } as const;

/** Ingest rolls back and runs again on a lost race; many writers on new fingerprints may need a few. */
const INGEST_TX = { settings: SQL.INGEST_SETTINGS, attempts: 10 };

export async function ingestBatch(pool: Pool, items: IngestItem[], now: Date): Promise<IngestResult[]> {
  if (items.length === 0) return [];
  // Receipts are read only after a first attempt met one: redeliveries are the exception.
  const attempt = { readReceipts: false };
  return transaction(pool, (c) => ingestIn(c, items, now, attempt), INGEST_TX);
}

/**
 * One ingest transaction, in lock order: open alerts counted (fingerprint order), pointers of
 * fingerprints that need a new alert (sorted), receipts (sorted). A lost race rolls back and
 * runs again: a receipt key recorded meanwhile (then receipts are read first), or a fingerprint
 * another batch opened an alert for.
 */
async function ingestIn(c: PoolClient, items: IngestItem[], now: Date, attempt: { readReceipts: boolean }): Promise<IngestResult[]> {
  const at = now.toISOString();
  const stored = new Map<string, IngestResult>();
  const keys = unique(items.flatMap((i) => (i.receipt_key === undefined ? [] : [i.receipt_key])));
  if (attempt.readReceipts && keys.length) {
    for (const r of await readReceipts(c, keys)) if (!stored.has(r.receipt_key)) stored.set(r.receipt_key, r.result);
  }

  // Per fingerprint: the items it brings (all but replays, of a stored key or of one earlier
  // in the batch) and the first of them, which opens the alert if there is no open one.
  const counts = new Map<string, { n: number; first: IngestItem }>();
  const seen = new Set<string>();
  for (const i of items) {
    if (i.receipt_key !== undefined) {
      if (stored.has(i.receipt_key) || seen.has(i.receipt_key)) continue;
      seen.add(i.receipt_key);
    }
    const entry = counts.get(i.alert.fingerprint);
    if (entry) entry.n++;
    else counts.set(i.alert.fingerprint, { n: 1, first: i });
  }
  const fps = [...counts.keys()].sort();
  const holders = new Map<string, Holder>();
  const gone = new Set<string>();
  if (fps.length) {
    const open = await c.query<{ fingerprint: string; alert_ref: string; until_ms: number; base: number | null }>(
      { ...COUNT_OPEN, values: [fps, fps.map((fp) => counts.get(fp)!.n), at] },
    );
    for (const r of open.rows) {
      if (r.base === null) gone.add(r.alert_ref);
      else holders.set(r.fingerprint, { alert_ref: r.alert_ref, dedupe_until: new Date(r.until_ms).toISOString(), occurrences: r.base });
    }
  }
  // The others get a new alert: choose its ref now and point the fingerprint at it.
  const newRefs = new Map<string, string>();
  const free = fps.filter((fp) => !holders.has(fp));
  if (free.length) {
    for (const fp of free) newRefs.set(fp, newAlertRef(now));
    const until = (fp: string) => new Date(now.getTime() + counts.get(fp)!.first.dedupe_ttl_minutes * 60_000).toISOString();
    const claimed = await c.query<{ fingerprint: string; alert_ref: string }>(
      SQL.CLAIM_POINTERS,
      [free, free.map((fp) => newRefs.get(fp)), free.map(until), at, [...gone]],
    );
    if (claimed.rows.some((r) => r.alert_ref !== newRefs.get(r.fingerprint))) {
      throw new RetryTransaction("another batch opened an alert for one of the fingerprints");
    }
  }

  // Counted alerts are already updated: the plan gives the results, new alerts and receipts.
  const plan = planIngest(items, now, {
    receipt: (k) => stored.get(k),
    holder: (fp) => holders.get(fp),
    newRef: (fp) => newRefs.get(fp),
  });
  if (plan.created.length || plan.receipts.length) {
    // Stream receipts of one stream go with the write (the usual case); any others after it.
    const { keyed: rs, batches } = splitReceipts(plan.receipts);
    const written = await c.query<{ keyed: number; clash: boolean }>({
      ...WRITE_INGEST,
      values: [
        JSON.stringify(plan.created),
        at,
        rs.map((r) => r.receipt_key),
        rs.map((r) => r.result.alert_ref),
        rs.map((r) => r.result.deduped),
        rs.map((r) => r.result.occurrences),
        rs.map((r) => r.result.created),
        ...(batches[0] ?? NO_STREAM_BATCH),
      ],
    });
    let clash = written.rows[0]?.clash ?? true;
    for (const b of batches.slice(1)) {
      const more = await c.query<{ clash: boolean }>(SQL.WRITE_STREAM_BATCH, [at, ...b]);
      clash ||= more.rows[0]?.clash ?? true;
    }
    if ((written.rows[0]?.keyed ?? 0) < rs.length || clash) {
      attempt.readReceipts = true;
      throw new RetryTransaction("a receipt key was already recorded");
    }
  }
  return plan.results;
}

/** Stored receipts of `keys` from both tables, the first recorded result of a key first. */
export async function readReceipts(c: PoolClient | Pool, keys: string[]): Promise<StoredReceipt[]> {
  const plain: string[] = [];
  const streams: string[] = [];
  const seqs: number[] = [];
  for (const key of keys) {
    const k = streamKey(key);
    if (!k) plain.push(key);
    else {
      streams.push(k.stream);
      seqs.push(k.seq);
    }
  }
  const out: StoredReceipt[] = [];
  if (seqs.length) out.push(...(await c.query(SQL.SELECT_STREAM_RECEIPTS, [streams, seqs])).rows.map(toReceipt));
  if (plain.length) out.push(...(await c.query(SQL.SELECT_RECEIPTS, [plain])).rows.map(toReceipt));
  return out;
}
