/**
 * Alerts in Postgres: ingest (postgres-ingest.ts: one transaction of set-based statements per
 * batch, safe with several processes ingesting at once), reads and state changes (here), and
 * what `auto` replays (postgres-replay.ts). SQL in postgres-sql.ts, rows ↔ records in
 * postgres-rows.ts.
 */
import type { AlertRecord } from "../../subjects/index.js";
import { ALERT_STATUSES, type AlertStatus } from "../../subjects/index.js";
import { storableText, unstorableReason } from "../../util/storable.js";
import { PostgresStore, type PostgresStoreOptions } from "../postgres-store.js";
import { transaction } from "../pg.js";
import { clampLimit, DASHBOARD_BOUNDS, LIST_BOUNDS, PATCH_FIELDS, windowStart, withEffectiveStatus } from "../../alerts/query-rules.js";
import { ingestBatch } from "./postgres-ingest.js";
import { clearAlertRows, exportAlertRows, importAlertRows } from "./postgres-replay.js";
import { toRecord } from "./postgres-rows.js";
import * as SQL from "./postgres-sql.js";
import type {
  AlertDashboard,
  AlertQuery,
  AlertRow,
  AlertStateGuard,
  AlertStatePatch,
  AlertStore,
  IngestItem,
  IngestResult,
} from "../../alerts/store.js";

export type PostgresAlertStoreOptions = PostgresStoreOptions;

const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];

const PATCH_CASTS: Record<(typeof PATCH_FIELDS)[number], string> = {
  status: "text", owner: "text", lock_until: "timestamptz", attempts: "integer", last_error: "text",
  retry_at: "timestamptz", dead: "boolean", ack_note: "text", acked_at: "timestamptz", delivery: "jsonb",
  suppression: "jsonb",
};
const JSON_FIELDS = new Set<string>(["delivery", "suppression"]);

export class PostgresAlertStore extends PostgresStore implements AlertStore {
  readonly backendName = "PostgresAlertStore";

  ingestBatch(items: IngestItem[], now: Date): Promise<IngestResult[]> {
    return ingestBatch(this.pool, items, now);
  }

  async get(alertRef: string): Promise<AlertRecord | null> {
    // No stored ref holds a NUL, and Postgres refuses one as a parameter: nothing to find.
    if (unstorableReason(alertRef)) return null;
    const res = await this.pool.query("SELECT * FROM alerts WHERE alert_ref = $1", [alertRef]);
    return res.rows[0] ? toRecord(res.rows[0]) : null;
  }

  async getMany(alertRefs: string[]): Promise<AlertRecord[]> {
    const refs = unique(alertRefs).filter((r) => !unstorableReason(r));
    if (refs.length === 0) return [];
    const res = await this.pool.query("SELECT * FROM alerts WHERE alert_ref = ANY($1::text[])", [refs]);
    const byRef = new Map(res.rows.map((r) => [r.alert_ref as string, toRecord(r)]));
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
      q.state ?? null,
      q.fingerprints?.filter((f) => !unstorableReason(f)) ?? null,
      q.severity_in?.filter((v) => !unstorableReason(v)) ?? null,
      q.kind_in?.filter((v) => !unstorableReason(v)) ?? null,
    ]);
    return res.rows.map((r) => withEffectiveStatus(toRecord(r), now));
  }

  async updateState(alertRef: string, guard: AlertStateGuard, patch: AlertStatePatch): Promise<AlertRecord | null> {
    if (unstorableReason(alertRef)) return null;
    const params: unknown[] = [alertRef];
    const sets: string[] = [];
    for (const field of PATCH_FIELDS) {
      const value = patch[field];
      if (value === undefined) continue;
      // Notes and errors come from callers: a NUL or lone surrogate is replaced, not refused by Postgres.
      params.push(value === null ? null : JSON_FIELDS.has(field) ? JSON.stringify(value) : typeof value === "string" ? storableText(value) : value);
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
    return res.rows[0] ? toRecord(res.rows[0]) : null;
  }

  /** One UPDATE for the batch: each row's patch as jsonb; a field absent from it keeps its value. */
  async updateStates(items: Array<{ alert_ref: string; patch: AlertStatePatch }>): Promise<number> {
    if (!items.length) return 0;
    const sets = PATCH_FIELDS.map((f) => {
      const value = JSON_FIELDS.has(f) ? `NULLIF(p.patch->'${f}', 'null'::jsonb)` : `(p.patch->>'${f}')::${PATCH_CASTS[f]}`;
      return `${f} = CASE WHEN p.patch ? '${f}' THEN ${value} ELSE a.${f} END`;
    });
    const sql = `UPDATE alerts a SET ${sets.join(", ")}
      FROM jsonb_to_recordset($1::jsonb) AS p(alert_ref text, patch jsonb) WHERE a.alert_ref = p.alert_ref`;
    const rows = items.map(({ alert_ref, patch }) => ({ alert_ref, patch }));
    // JSON drops `undefined` fields (left as they are) and keeps `null` (cleared), as updateState does.
    const res = await this.pool.query(sql, [JSON.stringify(rows)]);
    return res.rowCount ?? 0;
  }

  async resolveExpired(now: Date, limit: number): Promise<AlertRecord[]> {
    const res = await this.pool.query(SQL.RESOLVE_EXPIRED, [now.toISOString(), limit]);
    return res.rows.map((r) => toRecord(r));
  }

  async resolve(alertRef: string, now: Date): Promise<AlertRecord | null> {
    if (unstorableReason(alertRef)) return null;
    const res = await this.pool.query(SQL.RESOLVE_ONE, [alertRef, now.toISOString()]);
    return res.rows[0] ? toRecord(res.rows[0]) : null;
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
    return res.rows.map((r) => toRecord(r));
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

  exportRows(): Promise<AlertRow[]> {
    return exportAlertRows(this.pool);
  }

  importRows(rows: AlertRow[]): Promise<void> {
    return importAlertRows(this.pool, rows);
  }

  clearRows(): Promise<void> {
    return clearAlertRows(this.pool);
  }
}
