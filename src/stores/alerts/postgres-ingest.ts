/**
 * Ingest into the Postgres alert store. Safe and fast with several processes ingesting at once;
 * per batch, one transaction of a few set-based statements:
 * 1. lock the alert each fingerprint's pointer (`alert_fingerprints`) names, in fingerprint order,
 *    reading its count, window and lifecycle times (LOCK_HOLDERS);
 * 2. `planIngest` (the same rules as every backend) gives results, counts and lifecycle changes,
 *    new alerts and receipts; the refs of new alerts are chosen here;
 * 3. fingerprints that get a new alert: point them at it (locking the pointer rows, sorted);
 * 4. one statement writes the new alerts, the changes to counted alerts and the receipts: stream
 *    receipts (the worker's `<stream>@<created>:<seq>` keys) as one `alert_receipt_batches` row
 *    listing the batch's sequences, a batch message's entries (`…:<seq>:<index>`) one such row
 *    per message listing the entry indexes, other keys one `alert_receipts` row each.
 * Batches sharing an alert or a new fingerprint serialise on it, and only those. A lost race (a
 * receipt key already recorded, a fingerprint opened by another batch) rolls the transaction
 * back to run again; receipts are only read then, since redeliveries are the exception. Two
 * batches holding the same message share its fingerprint, so the later one's write sees the
 * earlier one's receipt (see WRITE_INGEST).
 */
import { newAlertRef } from "../../ids.js";
import { planIngest, type AlertBump, type Holder, type StoredReceipt } from "../../alerts/ingest-plan.js";
import type { IngestItem, IngestResult } from "../../alerts/store.js";
import { RetryTransaction, transaction, type Pool, type PoolClient } from "../pg.js";
import { ingestReceiptColumns, pgArray, streamKey, toReceipt, withArrayLiterals } from "./postgres-rows.js";
import * as SQL from "./postgres-sql.js";

/** `xs` without repeats, first occurrence first. */
function unique<T>(xs: readonly T[]): T[] {
  const seen = new Set<T>();
  const out: T[] = [];
  for (const x of xs) {
    if (seen.has(x)) continue;
    seen.add(x);
    out.push(x);
  }
  return out;
}

/**
 * The two statements of every ingest batch run as named (prepared) statements: each connection
 * parses and plans them once instead of per batch (~4% of a batch's time alone).
 */
const LOCK_HOLDERS = { name: "alerts.lock_holders", text: SQL.LOCK_HOLDERS } as const;
const WRITE_INGEST = { name: "alerts.write_ingest", text: SQL.WRITE_INGEST } as const;

/** A row of LOCK_HOLDERS: times as epoch ms; `base` NULL when the pointer names a gone alert. */
interface HolderRow {
  fingerprint: string;
  alert_ref: string;
  until_ms: number;
  base: number | null;
  starts_ms: number | null;
  ends_ms: number | null;
  resolved_ms: number | null;
  seen_ms: number | null;
}

/** Ingest rolls back and runs again on a lost race; many writers on new fingerprints may need a few. */
const INGEST_TX = { settings: SQL.INGEST_SETTINGS, attempts: 10 };

export async function ingestBatch(pool: Pool, items: IngestItem[], now: Date): Promise<IngestResult[]> {
  if (items.length === 0) return [];
  // Receipts are read only after a first attempt met one: redeliveries are the exception.
  const attempt = { readReceipts: false };
  return transaction(pool, (c) => ingestIn(c, items, now, attempt), INGEST_TX);
}

/**
 * One ingest transaction, in lock order: the fingerprints' alerts (fingerprint order), pointers
 * of fingerprints that need a new alert (sorted), receipts (sorted). A lost race rolls back and
 * runs again: a receipt key recorded meanwhile (then receipts are read first), or a fingerprint
 * another batch opened an alert for.
 */
async function ingestIn(c: PoolClient, items: IngestItem[], now: Date, attempt: { readReceipts: boolean }): Promise<IngestResult[]> {
  const at = now.toISOString();
  const stored = new Map<string, IngestResult>();
  if (attempt.readReceipts) {
    const keys = unique(items.flatMap((i) => (i.receipt_key === undefined ? [] : [i.receipt_key])));
    for (const r of await readReceipts(c, keys)) if (!stored.has(r.receipt_key)) stored.set(r.receipt_key, r.result);
  }

  const fps = unique(items.map((i) => i.alert.fingerprint)).sort();
  const holders = new Map<string, Holder>();
  const gone = new Set<string>();
  if (fps.length) {
    const open = await c.query<HolderRow>({ ...LOCK_HOLDERS, values: [pgArray(fps)] });
    // Alerts of a batch share their ends_at (a sender's batch, one evaluation): each text is formatted once.
    const endsText = new Map<number, string>();
    for (const r of open.rows) {
      if (r.base === null) gone.add(r.alert_ref);
      else {
        // Whole ms, as a timestamp's ISO text has them. Window end and start stay numbers: the plan
        // compares them, and formatting them was most of this loop's time.
        const h: Holder = { alert_ref: r.alert_ref, occurrences: r.base, until_ms: Math.trunc(r.until_ms) };
        if (r.starts_ms !== null) h.starts_ms = Math.trunc(r.starts_ms);
        if (r.ends_ms !== null) {
          h.ends_ms = Math.trunc(r.ends_ms);
          let text = endsText.get(h.ends_ms);
          if (text === undefined) endsText.set(h.ends_ms, (text = new Date(h.ends_ms).toISOString()));
          h.ends_at = text;
        }
        if (r.resolved_ms !== null) {
          h.resolved_at = new Date(r.resolved_ms).toISOString();
          // Only a resolved alert's last sighting matters (who resolved it).
          if (r.seen_ms !== null) h.last_seen_ms = Math.trunc(r.seen_ms);
        }
        holders.set(r.fingerprint, h);
      }
    }
  }
  // The plan chooses which fingerprints open a new alert; its ref is chosen here.
  const newRefs = new Map<string, string>();
  const plan = planIngest(items, now, {
    receipt: (k) => stored.get(k),
    holder: (fp) => holders.get(fp),
    newRef: (fp) => {
      let ref = newRefs.get(fp);
      if (ref === undefined) newRefs.set(fp, (ref = newAlertRef(now)));
      return ref;
    },
  });
  const free = [...newRefs.keys()].sort();
  if (free.length) {
    const ttl = new Map(plan.created.map((r) => [r.fingerprint, r.dedupe_until]));
    const claimed = await c.query<{ fingerprint: string; alert_ref: string }>(
      SQL.CLAIM_POINTERS,
      withArrayLiterals([free, free.map((fp) => newRefs.get(fp)), free.map((fp) => ttl.get(fp) ?? at), at, [...gone]]),
    );
    if (claimed.rows.some((r) => r.alert_ref !== newRefs.get(r.fingerprint))) {
      throw new RetryTransaction("another batch opened an alert for one of the fingerprints");
    }
  }

  if (plan.created.length || plan.receipts.length || plan.bumped.length) {
    const receipts = ingestReceiptColumns(plan.receipts);
    const written = await c.query<{ keyed: number; clash: boolean }>({
      ...WRITE_INGEST,
      values: withArrayLiterals([JSON.stringify(plan.created), at, ...receipts.params, ...bumpColumns(plan.bumped)]),
    });
    if ((written.rows[0]?.keyed ?? 0) < receipts.keyed || (written.rows[0]?.clash ?? true)) {
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
  if (plain.length) out.push(...(await c.query(SQL.SELECT_RECEIPTS, [plain])).rows.map(toReceipt));
  if (seqs.length) out.push(...(await c.query(SQL.SELECT_STREAM_RECEIPTS, [streams, seqs])).rows.map(toReceipt));
  return out;
}

/** WRITE_INGEST's $18..$24: the plan's bumps as column arrays. */
function bumpColumns(bumped: AlertBump[]): unknown[] {
  return [
    bumped.map((b) => b.alert_ref),
    bumped.map((b) => b.occurrences),
    bumped.map((b) => b.ends_at ?? null),
    bumped.map((b) => b.starts_at ?? null),
    bumped.map((b) => b.resolved_at ?? null),
    bumped.map((b) => b.resolved_at === null),
    bumped.map((b) => b.reset_work === true),
  ];
}
