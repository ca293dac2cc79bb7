/**
 * Alerts in Postgres. Safe and fast with several processes ingesting at once; per batch, one
 * transaction of a few set-based statements:
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
import type { AlertRecord } from "../../subjects/index.js";
import { ALERT_STATUSES, type AlertStatus } from "../../subjects/index.js";
import { storableText, unstorableReason } from "../../util/storable.js";
import { PostgresStore, type PostgresStoreOptions } from "../postgres-store.js";
import { RetryTransaction, transaction, type Pool, type PoolClient } from "../pg.js";
import { planIngest, type Holder, type StoredReceipt } from "../../alerts/ingest-plan.js";
import { clampLimit, DASHBOARD_BOUNDS, LIST_BOUNDS, PATCH_FIELDS, windowStart, withEffectiveStatus } from "./query.js";
import * as SQL from "./postgres-sql.js";
import {
  isNewer,
  type AlertDashboard,
  type AlertQuery,
  type AlertRow,
  type AlertStateGuard,
  type AlertStatePatch,
  type AlertStore,
  type IngestItem,
  type IngestResult,
} from "../../alerts/store.js";

export type PostgresAlertStoreOptions = PostgresStoreOptions;

/** Rows per transaction when importing a fallback's rows. */
const IMPORT_CHUNK = 1000;
const PATCH_CASTS: Record<(typeof PATCH_FIELDS)[number], string> = {
  status: "text", owner: "text", lock_until: "timestamptz", attempts: "integer", last_error: "text",
  retry_at: "timestamptz", dead: "boolean", ack_note: "text", acked_at: "timestamptz", delivery: "jsonb",
};

const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];

/**
 * The two statements of every ingest batch run as named (prepared) statements: each connection
 * parses and plans them once instead of per batch (~4% of a batch's time alone).
 */
const COUNT_OPEN = { name: "alerts.count_open", text: SQL.COUNT_OPEN } as const;
const WRITE_INGEST = { name: "alerts.write_ingest", text: SQL.WRITE_INGEST } as const;

/** Ingest rolls back and runs again on a lost race; many writers on new fingerprints may need a few. */
const INGEST_TX = { settings: SQL.INGEST_SETTINGS, attempts: 10 };

export class PostgresAlertStore extends PostgresStore implements AlertStore {
  readonly backendName = "PostgresAlertStore";

  async ingestBatch(items: IngestItem[], now: Date): Promise<IngestResult[]> {
    if (items.length === 0) return [];
    // Receipts are read only after a first attempt met one: redeliveries are the exception.
    const attempt = { readReceipts: false };
    return transaction(this.pool, (c) => this.ingestIn(c, items, now, attempt), INGEST_TX);
  }

  /**
   * One ingest transaction, in lock order: open alerts counted (fingerprint order), pointers of
   * fingerprints that need a new alert (sorted), receipts (sorted). A lost race rolls back and
   * runs again: a receipt key recorded meanwhile (then receipts are read first), or a fingerprint
   * another batch opened an alert for.
   */
  private async ingestIn(c: PoolClient, items: IngestItem[], now: Date, attempt: { readReceipts: boolean }): Promise<IngestResult[]> {
    const at = now.toISOString();
    const stored = new Map<string, IngestResult>();
    const keys = unique(items.flatMap((i) => (i.receipt_key === undefined ? [] : [i.receipt_key])));
    if (attempt.readReceipts && keys.length) {
      for (const r of await this.readReceipts(c, keys)) if (!stored.has(r.receipt_key)) stored.set(r.receipt_key, r.result);
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
      const { keyed: rs, batches } = SQL.splitReceipts(plan.receipts);
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
          ...(batches[0] ?? SQL.NO_STREAM_BATCH),
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
  private async readReceipts(c: PoolClient | Pool, keys: string[]): Promise<StoredReceipt[]> {
    const plain: string[] = [];
    const streams: string[] = [];
    const seqs: number[] = [];
    for (const key of keys) {
      const k = SQL.streamKey(key);
      if (!k) plain.push(key);
      else {
        streams.push(k.stream);
        seqs.push(k.seq);
      }
    }
    const out: StoredReceipt[] = [];
    if (seqs.length) out.push(...(await c.query(SQL.SELECT_STREAM_RECEIPTS, [streams, seqs])).rows.map(SQL.toReceipt));
    if (plain.length) out.push(...(await c.query(SQL.SELECT_RECEIPTS, [plain])).rows.map(SQL.toReceipt));
    return out;
  }

  async get(alertRef: string): Promise<AlertRecord | null> {
    // No stored ref holds a NUL, and Postgres refuses one as a parameter: nothing to find.
    if (unstorableReason(alertRef)) return null;
    const res = await this.pool.query("SELECT * FROM alerts WHERE alert_ref = $1", [alertRef]);
    return res.rows[0] ? SQL.toRecord(res.rows[0]) : null;
  }

  async getMany(alertRefs: string[]): Promise<AlertRecord[]> {
    const refs = unique(alertRefs).filter((r) => !unstorableReason(r));
    if (refs.length === 0) return [];
    const res = await this.pool.query("SELECT * FROM alerts WHERE alert_ref = ANY($1::text[])", [refs]);
    const byRef = new Map(res.rows.map((r) => [r.alert_ref as string, SQL.toRecord(r)]));
    return refs.flatMap((ref) => byRef.get(ref) ?? []);
  }

  async list(q: AlertQuery, now: Date): Promise<AlertRecord[]> {
    // A filter no stored alert can hold (ingest refuses NUL and lone surrogates) matches nothing.
    if ([q.env, q.service, q.source, q.fingerprint].some((v) => v !== undefined && unstorableReason(v))) return [];
    const limit = clampLimit(q.limit, LIST_BOUNDS.defaultLimit, LIST_BOUNDS.maxLimit);
    return this.listRows(q, limit, now);
  }

  private async listRows(q: AlertQuery, limit: number, now: Date): Promise<AlertRecord[]> {
    const res = await this.pool.query(SQL.LIST, [
      new Date(windowStart(q.window_minutes, now)).toISOString(),
      now.toISOString(),
      q.env ?? null,
      q.service ?? null,
      q.source ?? null,
      q.fingerprint ?? null,
      q.status_in ?? null,
      limit,
    ]);
    return res.rows.map((r) => withEffectiveStatus(SQL.toRecord(r), now));
  }

  async updateState(alertRef: string, guard: AlertStateGuard, patch: AlertStatePatch): Promise<AlertRecord | null> {
    if (unstorableReason(alertRef)) return null;
    const params: unknown[] = [alertRef];
    const sets: string[] = [];
    for (const field of PATCH_FIELDS) {
      const value = patch[field];
      if (value === undefined) continue;
      // Notes and errors come from callers: a NUL or lone surrogate is replaced, not refused by Postgres.
      params.push(value === null ? null : field === "delivery" ? JSON.stringify(value) : typeof value === "string" ? storableText(value) : value);
      sets.push(`${field} = $${params.length}::${PATCH_CASTS[field]}`);
    }
    const where = ["alert_ref = $1"];
    if (guard.status !== undefined) {
      params.push(guard.status);
      where.push(`status = $${params.length}`);
    }
    if (guard.delivery_count !== undefined) {
      params.push(guard.delivery_count);
      where.push(`(delivery IS NULL OR (delivery->>'delivery_count')::int <= $${params.length}::int)`);
    }
    const sql = sets.length
      ? `UPDATE alerts SET ${sets.join(", ")} WHERE ${where.join(" AND ")} RETURNING *`
      : `SELECT * FROM alerts WHERE ${where.join(" AND ")}`;
    const res = await this.pool.query(sql, params);
    return res.rows[0] ? SQL.toRecord(res.rows[0]) : null;
  }

  /** One UPDATE for the batch: each row's patch as jsonb; a field absent from it keeps its value. */
  async updateStates(items: Array<{ alert_ref: string; patch: AlertStatePatch }>): Promise<number> {
    if (!items.length) return 0;
    const sets = PATCH_FIELDS.map((f) => {
      const value = f === "delivery" ? `NULLIF(p.patch->'${f}', 'null'::jsonb)` : `(p.patch->>'${f}')::${PATCH_CASTS[f]}`;
      return `${f} = CASE WHEN p.patch ? '${f}' THEN ${value} ELSE a.${f} END`;
    });
    const sql = `UPDATE alerts a SET ${sets.join(", ")}
      FROM jsonb_to_recordset($1::jsonb) AS p(alert_ref text, patch jsonb) WHERE a.alert_ref = p.alert_ref`;
    const rows = items.map(({ alert_ref, patch }) => ({ alert_ref, patch }));
    // JSON drops `undefined` fields (left as they are) and keeps `null` (cleared), as updateState does.
    const res = await this.pool.query(sql, [JSON.stringify(rows)]);
    return res.rowCount ?? 0;
  }

  async statusCounts(windowMinutes: number, now: Date): Promise<Record<AlertStatus, number>> {
    const since = new Date(windowStart(windowMinutes, now)).toISOString();
    const res = await this.pool.query<{ status: AlertStatus; n: number }>(SQL.COUNT_BY_STATUS, [since, now.toISOString()]);
    const byStatus = Object.fromEntries(ALERT_STATUSES.map((s) => [s, 0])) as Record<AlertStatus, number>;
    for (const r of res.rows) byStatus[r.status] = r.n;
    return byStatus;
  }

  async lapsedClaims(now: Date, minDeliveries: number, limit: number): Promise<AlertRecord[]> {
    const res = await this.pool.query(SQL.LAPSED_CLAIMS, [now.toISOString(), minDeliveries, limit]);
    return res.rows.map((r) => SQL.toRecord(r));
  }

  async dashboard(windowMinutes: number, now: Date, latest?: number): Promise<AlertDashboard> {
    const since = new Date(windowStart(windowMinutes, now)).toISOString();
    const n = clampLimit(latest, DASHBOARD_BOUNDS.defaultLatest, DASHBOARD_BOUNDS.maxLatest);
    const [counts, top, rows] = await Promise.all([
      this.pool.query<{ status: AlertStatus; n: number }>(SQL.COUNT_BY_STATUS, [since, now.toISOString()]),
      this.pool.query(SQL.TOP_SIGNATURES, [since, DASHBOARD_BOUNDS.topSignatures]),
      this.listRows({ window_minutes: windowMinutes }, n, now),
    ]);
    const byStatus = Object.fromEntries(ALERT_STATUSES.map((s) => [s, 0])) as Record<AlertStatus, number>;
    for (const r of counts.rows) byStatus[r.status] = r.n;
    return {
      window_minutes: windowMinutes,
      counts_by_status: byStatus,
      top_signatures: top.rows.map((r) => ({
        fingerprint: r.fingerprint,
        service: r.service,
        kind: r.kind,
        title: r.title,
        alerts: r.alerts,
        occurrences: Number(r.occurrences),
      })),
      latest: rows,
    };
  }

  purgeOlderThan(cutoff: Date): Promise<number> {
    return transaction(this.pool, async (c) => {
      const at = cutoff.toISOString();
      // An ingest that counted an alert meanwhile moved its last_seen_at: the row no longer matches.
      const gone = await c.query<{ alert_ref: string }>(SQL.PURGE_ALERTS, [at]);
      const refs = gone.rows.map((r) => r.alert_ref);
      if (refs.length) await c.query("DELETE FROM alert_fingerprints WHERE alert_ref = ANY($1::text[])", [refs]);
      await c.query("DELETE FROM alert_receipts WHERE at < $1", [at]);
      await c.query("DELETE FROM alert_receipt_batches WHERE at < $1", [at]);
      return refs.length;
    });
  }

  async exportRows(): Promise<AlertRow[]> {
    const alerts = await this.pool.query("SELECT * FROM alerts ORDER BY created_at, alert_ref");
    const receipts = await this.pool.query("SELECT * FROM alert_receipts ORDER BY at, receipt_key");
    const batched = await this.pool.query(SQL.EXPORT_STREAM_RECEIPTS);
    // One row per key, as every backend exports them, whichever table held it.
    const seen = new Set<string>();
    const rows: AlertRow[] = alerts.rows.map((r): AlertRow => ({ kind: "alert", data: SQL.toRecord(r) }));
    for (const r of [...receipts.rows, ...batched.rows]) {
      if (seen.has(r.receipt_key)) continue;
      seen.add(r.receipt_key);
      rows.push({ kind: "receipt", data: SQL.toReceipt(r) });
    }
    return rows;
  }

  /** Idempotent; each chunk commits on its own, so a failed import can simply run again. */
  async importRows(rows: AlertRow[]): Promise<void> {
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
      await transaction(this.pool, async (c) => {
        if (alerts.size) await c.query(SQL.UPSERT_ALERTS, [JSON.stringify([...alerts.values()])]);
        if (ptr.length) {
          await c.query(SQL.UPSERT_POINTERS, [ptr.map((a) => a.fingerprint), ptr.map((a) => a.alert_ref), ptr.map((a) => a.dedupe_until)]);
        }
        if (receipts.size) await this.importReceipts(c, [...receipts.values()]);
      });
    }
  }

  /** Keyed receipts one row each (a stored key wins); stream receipts not stored yet, one batch row per time. */
  private async importReceipts(c: PoolClient, all: StoredReceipt[]): Promise<void> {
    const { keyed } = SQL.splitReceipts(all);
    if (keyed.length) await c.query(SQL.INSERT_RECEIPTS, SQL.receiptColumns(keyed));
    const streamed = all.filter((r) => SQL.streamKey(r.receipt_key));
    if (!streamed.length) return;
    const stored = new Set((await this.readReceipts(c, streamed.map((r) => r.receipt_key))).map((r) => r.receipt_key));
    const byTime = new Map<string, StoredReceipt[]>();
    for (const r of streamed) {
      if (stored.has(r.receipt_key)) continue;
      const group = byTime.get(r.at) ?? [];
      group.push(r);
      byTime.set(r.at, group);
    }
    for (const [at, group] of byTime) {
      for (const b of SQL.splitReceipts(group).batches) await c.query(SQL.INSERT_STREAM_RECEIPTS, [...b, at]);
    }
  }

  async clearRows(): Promise<void> {
    await this.pool.query("TRUNCATE alerts, alert_fingerprints, alert_receipts, alert_receipt_batches");
  }
}
