/** Risk snapshots in Postgres (`risk_history`, ops/migrations/006): one INSERT per put, whatever its size. */
import { PostgresStore, type PostgresStoreOptions } from "../postgres-store.js";
import { iso } from "../pg.js";
import { riskLimit, type PutResult, type RiskHistoryStore, type RiskQuery, type RiskRow, type RiskSnapshot } from "../../risk/store.js";

export type PostgresRiskHistoryStoreOptions = PostgresStoreOptions;

const COLUMN_TYPES = [
  ["id", "text"], ["env", "text"], ["service", "text"], ["hour", "timestamptz"], ["ts", "timestamptz"],
  ["score", "double precision"], ["band", "text"], ["attribution", "jsonb"],
] as const;
const COLUMNS = COLUMN_TYPES.map(([c]) => c).join(", ");

/** Any key taken (id or env+service+hour, which the id spells) keeps the stored snapshot. */
const PUT = `
  INSERT INTO risk_history (${COLUMNS})
  SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMN_TYPES.map(([c, t]) => `${c} ${t}`).join(", ")})
  ORDER BY id COLLATE "C"
  ON CONFLICT DO NOTHING
  RETURNING id`;

const ORDER = `ORDER BY hour, env COLLATE "C", service COLLATE "C"`;

/** Filters that compare a column with a parameter. */
const FILTERS = [
  ["env", "env = $"],
  ["service", "service = $"],
  ["since", "hour >= $::timestamptz"],
  ["until", "hour < $::timestamptz"],
] as const satisfies ReadonlyArray<readonly [keyof RiskQuery, string]>;

function whereOf(q: Partial<Record<(typeof FILTERS)[number][0], string>>, params: unknown[]): string {
  const parts: string[] = [];
  for (const [field, cond] of FILTERS) {
    const value = q[field];
    if (value === undefined) continue;
    params.push(value);
    parts.push(cond.replace("$", `$${params.length}`));
  }
  return parts.length ? `WHERE ${parts.join(" AND ")}` : "";
}

function toSnapshot(row: Record<string, unknown>): RiskSnapshot {
  return {
    id: String(row.id),
    env: String(row.env),
    service: String(row.service),
    hour: iso(row.hour),
    ts: iso(row.ts),
    score: Number(row.score),
    band: row.band as RiskSnapshot["band"],
    attribution: (row.attribution ?? []) as RiskSnapshot["attribution"],
  };
}

export class PostgresRiskHistoryStore extends PostgresStore implements RiskHistoryStore {
  readonly backendName = "PostgresRiskHistoryStore";

  async put(snapshots: RiskSnapshot[]): Promise<PutResult> {
    if (snapshots.length === 0) return { inserted: [], existing: [] };
    const res = await this.pool.query<{ id: string }>(PUT, [JSON.stringify(snapshots)]);
    const fresh = new Set(res.rows.map((r) => r.id));
    const out: PutResult = { inserted: [], existing: [] };
    // delete(): a duplicate id within the call counts as existing after its first copy.
    for (const s of snapshots) (fresh.delete(s.id) ? out.inserted : out.existing).push(s.id);
    return out;
  }

  async list(q: RiskQuery): Promise<RiskSnapshot[]> {
    const params: unknown[] = [];
    const where = whereOf(q, params);
    params.push(riskLimit(q.limit));
    const res = await this.pool.query(`SELECT * FROM risk_history ${where} ${ORDER} LIMIT $${params.length}`, params);
    return res.rows.map(toSnapshot);
  }

  async latestAt(at: string, q: { env?: string; service?: string } = {}): Promise<RiskSnapshot[]> {
    const params: unknown[] = [];
    const where = whereOf({ ...q, until: new Date(Date.parse(at) + 1).toISOString() }, params);
    const res = await this.pool.query(
      `SELECT * FROM (SELECT DISTINCT ON (env, service) * FROM risk_history ${where} ORDER BY env, service, hour DESC) latest ${ORDER}`,
      params,
    );
    return res.rows.map(toSnapshot);
  }

  async countOlderThan(cutoff: Date): Promise<number> {
    const res = await this.pool.query<{ n: string }>("SELECT count(*) AS n FROM risk_history WHERE hour < $1", [cutoff.toISOString()]);
    return Number(res.rows[0]?.n ?? 0);
  }

  async purgeOlderThan(cutoff: Date): Promise<number> {
    const res = await this.pool.query("DELETE FROM risk_history WHERE hour < $1", [cutoff.toISOString()]);
    return res.rowCount ?? 0;
  }

  async exportRows(): Promise<RiskRow[]> {
    const res = await this.pool.query(`SELECT * FROM risk_history ${ORDER}`);
    return res.rows.map((r): RiskRow => ({ kind: "risk", data: toSnapshot(r) }));
  }

  async importRows(rows: RiskRow[]): Promise<void> {
    const data = rows.filter((r) => r.kind === "risk").map((r) => r.data);
    for (let i = 0; i < data.length; i += 5000) await this.put(data.slice(i, i + 5000));
  }

  async clearRows(): Promise<void> {
    await this.pool.query("TRUNCATE risk_history");
  }
}
