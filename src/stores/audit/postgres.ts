/** Audit records in Postgres (`audit_log`): one INSERT per append call, whatever its size. */
import { PostgresStore, type PostgresStoreOptions } from "../postgres-store.js";
import { iso } from "../pg.js";
import { storableDeep } from "../../util/storable.js";
import { auditLimit, type AuditQuery, type AuditRecord, type AuditRow, type AuditStore } from "../../audit/store.js";

export type PostgresAuditStoreOptions = PostgresStoreOptions;

const COLUMN_TYPES = [
  ["id", "text"], ["ts", "timestamptz"], ["agent_id", "text"], ["role", "text"], ["tool", "text"],
  ["action", "text"], ["decision", "text"], ["status", "text"], ["duration_ms", "double precision"],
  ["params", "jsonb"], ["error_message", "text"], ["channel", "text"], ["node_id", "text"], ["request_id", "text"],
] as const;
const COLUMNS = COLUMN_TYPES.map(([c]) => c).join(", ");
/**
 * JSON.stringify writes a NUL as `\u0000` and a lone surrogate as `\udXXX` (a pair stays raw):
 * jsonb refuses both. The writer and redaction already replace them; this is the last line.
 */
const UNSTORABLE_ESCAPE = /\\u0000|\\ud[89a-f]/i;

const APPEND = `
  INSERT INTO audit_log (${COLUMNS})
  SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMN_TYPES.map(([c, t]) => `${c} ${t}`).join(", ")})
  ORDER BY id
  ON CONFLICT (id) DO NOTHING`;

/** Filters that compare a column with a parameter. */
const FILTERS = [
  ["since", "ts >= $::timestamptz"],
  ["until", "ts < $::timestamptz"],
  ["agent_id", "agent_id = $"],
  ["tool", "tool = $"],
  ["action", "action = $"],
  ["decision", "decision = $"],
  ["status", "status = $"],
  ["channel", "channel = $"],
] as const satisfies ReadonlyArray<readonly [keyof AuditQuery, string]>;

function toRecord(row: Record<string, unknown>): AuditRecord {
  const rec: AuditRecord = {
    id: String(row.id),
    ts: iso(row.ts),
    agent_id: String(row.agent_id),
    role: String(row.role),
    tool: String(row.tool),
    action: String(row.action),
    decision: row.decision as AuditRecord["decision"],
    status: row.status as AuditRecord["status"],
    duration_ms: Number(row.duration_ms),
    params: (row.params ?? {}) as Record<string, unknown>,
    channel: String(row.channel),
    node_id: String(row.node_id),
  };
  if (row.error_message !== null && row.error_message !== undefined) rec.error_message = String(row.error_message);
  if (row.request_id !== null && row.request_id !== undefined) rec.request_id = String(row.request_id);
  return rec;
}

export class PostgresAuditStore extends PostgresStore implements AuditStore {
  readonly backendName = "PostgresAuditStore";

  /** Idempotent per id: a record already stored is kept. */
  async append(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    let json = JSON.stringify(records);
    if (UNSTORABLE_ESCAPE.test(json)) json = JSON.stringify(storableDeep(records));
    await this.pool.query(APPEND, [json]);
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    for (const [field, cond] of FILTERS) {
      const value = q[field];
      if (value === undefined) continue;
      params.push(value);
      where.push(cond.replace("$", `$${params.length}`));
    }
    params.push(auditLimit(q.limit));
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY ${q.newest_first ? `ts DESC, id COLLATE "C" DESC` : `ts, id COLLATE "C"`} LIMIT $${params.length}`;
    const res = await this.pool.query(sql, params);
    return res.rows.map(toRecord);
  }

  async purgeOlderThan(cutoff: Date): Promise<number> {
    const res = await this.pool.query("DELETE FROM audit_log WHERE ts < $1", [cutoff.toISOString()]);
    return res.rowCount ?? 0;
  }

  async exportRows(): Promise<AuditRow[]> {
    const res = await this.pool.query(`SELECT * FROM audit_log ORDER BY ts, id COLLATE "C"`);
    return res.rows.map((r): AuditRow => ({ kind: "audit", data: toRecord(r) }));
  }

  async importRows(rows: AuditRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 5000) {
      await this.append(rows.slice(i, i + 5000).map((r) => r.data));
    }
  }

  async clearRows(): Promise<void> {
    await this.pool.query("TRUNCATE audit_log");
  }
}
