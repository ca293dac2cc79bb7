/**
 * The run ledger in Postgres (migration 005). Every change to a run is one transaction holding a
 * per-task advisory lock, so the overlap check in `startRun` and the transitions of one task never
 * interleave; rows are only inserted (transitions) or are lock state (leases).
 */
import { PostgresStore, type PostgresStoreOptions } from "../postgres-store.js";
import { iso, isoOrUndefined, transaction, type Pool, type PoolClient } from "../pg.js";
import { clampLimit, deriveRun, isTerminal, makeTransition, slotIso } from "../../jobs/ledger-rules.js";
import { ABANDONED } from "../../jobs/ledger-store.js";
import type { JobLease, JobLedgerStore, JobRow, JobRun, JobRunHeader, JobRunQuery, JobStatus, JobTransition, NewTransition, StartOutcome } from "../../jobs/ledger-store.js";

export type PostgresJobLedgerStoreOptions = PostgresStoreOptions;

type DbRow = Record<string, unknown>;
const LOCK_TASK = "SELECT pg_advisory_xact_lock(hashtext('opsbus_job:' || $1::text))";
const INSERT_RUN = `INSERT INTO job_runs (id, task_id, trigger, slot, key, run_token, tool, action, inputs, inputs_hash, dry_run, requested_by, rerun_of, created_at)
  SELECT id, task_id, trigger, slot, key, run_token, tool, action, coalesce(inputs, '{}'::jsonb), inputs_hash, dry_run, requested_by, rerun_of, created_at
  FROM jsonb_populate_recordset(NULL::job_runs, $1::jsonb) ON CONFLICT DO NOTHING`;
const INSERT_TRANSITIONS = `INSERT INTO job_run_transitions (run_id, n, status, at, reason, error_code, error_message, outputs, node_id)
  SELECT t.run_id, t.n, t.status, t.at, t.reason, t.error_code, t.error_message, t.outputs, t.node_id
  FROM jsonb_populate_recordset(NULL::job_run_transitions, $1::jsonb) t
  WHERE EXISTS (SELECT 1 FROM job_runs r WHERE r.id = t.run_id) ON CONFLICT DO NOTHING`;
const UPSERT_LEASES = `INSERT INTO job_run_leases (run_id, task_id, holder, lease_until, cancel_requested_at)
  SELECT run_id, task_id, holder, lease_until, cancel_requested_at FROM jsonb_populate_recordset(NULL::job_run_leases, $1::jsonb)
  ON CONFLICT (run_id) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until, cancel_requested_at = EXCLUDED.cancel_requested_at`;
/** Runs with their current status (the transition with the highest n). */
const CURRENT = `SELECT r.*, t.status FROM job_runs r
  JOIN LATERAL (SELECT status FROM job_run_transitions WHERE run_id = r.id ORDER BY n DESC LIMIT 1) t ON true`;

function toHeader(r: DbRow): JobRunHeader {
  const h: JobRunHeader = {
    id: String(r.id), task_id: String(r.task_id), trigger: r.trigger as JobRunHeader["trigger"], slot: slotIso(new Date(iso(r.slot))),
    key: String(r.key), tool: String(r.tool), action: String(r.action), inputs: (r.inputs ?? {}) as Record<string, unknown>,
    inputs_hash: String(r.inputs_hash), dry_run: Boolean(r.dry_run), requested_by: String(r.requested_by), created_at: iso(r.created_at),
  };
  if (r.run_token != null) h.run_token = String(r.run_token);
  if (r.rerun_of != null) h.rerun_of = String(r.rerun_of);
  return h;
}

function toTransition(r: DbRow): JobTransition {
  const t: JobTransition = { run_id: String(r.run_id), n: Number(r.n), status: r.status as JobStatus, at: iso(r.at) };
  for (const k of ["reason", "error_code", "error_message", "node_id"] as const) if (r[k] != null) t[k] = String(r[k]);
  if (r.outputs != null) t.outputs = r.outputs;
  return t;
}

function toLease(r: DbRow): JobLease {
  const l: JobLease = { run_id: String(r.run_id), task_id: String(r.task_id), holder: String(r.holder), lease_until: iso(r.lease_until) };
  const c = isoOrUndefined(r.cancel_requested_at);
  if (c) l.cancel_requested_at = c;
  return l;
}

export class PostgresJobLedgerStore extends PostgresStore implements JobLedgerStore {
  readonly backendName = "PostgresJobLedgerStore";

  /** Full runs for the given headers, in their order. */
  private async hydrate(c: Pool | PoolClient, headers: JobRunHeader[]): Promise<JobRun[]> {
    if (!headers.length) return [];
    const ids = headers.map((h) => h.id);
    const ts = await c.query("SELECT * FROM job_run_transitions WHERE run_id = ANY($1::text[]) ORDER BY run_id, n", [ids]);
    const ls = await c.query("SELECT * FROM job_run_leases WHERE run_id = ANY($1::text[])", [ids]);
    const byRun = new Map<string, JobTransition[]>();
    for (const r of ts.rows) {
      const t = toTransition(r);
      byRun.set(t.run_id, [...(byRun.get(t.run_id) ?? []), t]);
    }
    const leases = new Map(ls.rows.map((r) => [String(r.run_id), toLease(r)]));
    return headers.map((h) => deriveRun(h, byRun.get(h.id) ?? [], leases.get(h.id)));
  }

  private async one(c: Pool | PoolClient, sql: string, params: unknown[]): Promise<JobRun | null> {
    const r = await c.query(sql, params);
    return r.rows[0] ? (await this.hydrate(c, [toHeader(r.rows[0])]))[0]! : null;
  }

  private async append(c: PoolClient, run: JobRun, t: NewTransition, now: Date): Promise<void> {
    await c.query(INSERT_TRANSITIONS, [JSON.stringify([makeTransition(run.id, run.transitions.length + 1, t, now)])]);
    if (isTerminal(t.status)) await c.query("DELETE FROM job_run_leases WHERE run_id = $1", [run.id]);
  }

  /** Runs `fn` on the run under its task's lock; null when the run does not exist. */
  private locked<T>(id: string, fn: (c: PoolClient, run: JobRun) => Promise<T>): Promise<T | null> {
    return transaction(this.pool, async (c) => {
      const head = await c.query("SELECT task_id FROM job_runs WHERE id = $1", [id]);
      if (!head.rows[0]) return null;
      await c.query(LOCK_TASK, [head.rows[0].task_id]);
      const run = (await this.one(c, "SELECT * FROM job_runs WHERE id = $1", [id]))!;
      return fn(c, run);
    });
  }

  createRun(header: JobRunHeader, now: Date): Promise<{ run: JobRun; created: boolean }> {
    return transaction(this.pool, async (c) => {
      const ins = await c.query(INSERT_RUN, [JSON.stringify([header])]);
      if (ins.rowCount) await c.query(INSERT_TRANSITIONS, [JSON.stringify([makeTransition(header.id, 1, { status: "queued" }, now)])]);
      const run = await this.one(c, "SELECT * FROM job_runs WHERE key = $1", [header.key]);
      return { run: run!, created: Boolean(ins.rowCount) };
    });
  }

  get(id: string): Promise<JobRun | null> {
    return this.one(this.pool, "SELECT * FROM job_runs WHERE id = $1", [id]);
  }

  getByKey(key: string): Promise<JobRun | null> {
    return this.one(this.pool, "SELECT * FROM job_runs WHERE key = $1", [key]);
  }

  async list(q: JobRunQuery): Promise<JobRun[]> {
    const params: unknown[] = [];
    const conds: string[] = [];
    const add = (sql: string, value: unknown) => {
      if (value === undefined) return;
      params.push(value);
      conds.push(sql.replace("$", `$${params.length}`));
    };
    add("task_id = $", q.task_id);
    add("status = ANY($::text[])", q.status);
    add("dry_run = $", q.dry_run);
    add("created_at >= $::timestamptz", q.since);
    add("created_at < $::timestamptz", q.until);
    add("slot >= $::timestamptz", q.slot_since);
    add("slot < $::timestamptz", q.slot_until);
    params.push(clampLimit(q.limit));
    const dir = q.order === "asc" ? "ASC" : "DESC";
    const where = conds.length ? `WHERE ${conds.join(" AND ")}` : "";
    const r = await this.pool.query(`SELECT * FROM (${CURRENT}) x ${where} ORDER BY created_at ${dir}, id COLLATE "C" ${dir} LIMIT $${params.length}`, params);
    return this.hydrate(this.pool, r.rows.map(toHeader));
  }

  async startRun(id: string, lease: { holder: string; lease_until: string; skipIfRunning: boolean; node_id?: string }, now: Date): Promise<StartOutcome> {
    return this.locked(id, async (c, run): Promise<StartOutcome> => {
      if (run.status !== "queued") return null;
      const node = lease.node_id !== undefined ? { node_id: lease.node_id } : {};
      if (lease.skipIfRunning) {
        const busy = await c.query("SELECT 1 FROM job_run_leases WHERE task_id = $1 AND run_id <> $2 AND lease_until > $3", [run.task_id, id, now.toISOString()]);
        if (busy.rowCount) {
          await this.append(c, run, { status: "skipped", reason: "overlap", ...node }, now);
          return { run: (await this.one(c, "SELECT * FROM job_runs WHERE id = $1", [id]))!, started: false };
        }
      }
      await this.append(c, run, { status: "running", ...node }, now);
      await c.query(UPSERT_LEASES, [JSON.stringify([{ run_id: id, task_id: run.task_id, holder: lease.holder, lease_until: lease.lease_until }])]);
      return { run: (await this.one(c, "SELECT * FROM job_runs WHERE id = $1", [id]))!, started: true };
    });
  }

  async transition(id: string, from: JobStatus[], t: NewTransition, now: Date): Promise<JobRun | null> {
    return this.locked(id, async (c, run) => {
      if (!from.includes(run.status)) return null;
      await this.append(c, run, t, now);
      return this.one(c, "SELECT * FROM job_runs WHERE id = $1", [id]);
    });
  }

  async renewLease(id: string, holder: string, leaseUntil: string): Promise<{ held: boolean; cancelRequested: boolean }> {
    const r = await this.pool.query(
      "UPDATE job_run_leases SET lease_until = $3 WHERE run_id = $1 AND holder = $2 RETURNING cancel_requested_at",
      [id, holder, leaseUntil],
    );
    return r.rows[0] ? { held: true, cancelRequested: r.rows[0].cancel_requested_at != null } : { held: false, cancelRequested: false };
  }

  async requestCancel(id: string, now: Date): Promise<JobRun | null> {
    return this.locked(id, async (c, run) => {
      if (run.status === "queued") await this.append(c, run, { status: "canceled", reason: "canceled" }, now);
      if (run.status === "running") {
        await c.query("UPDATE job_run_leases SET cancel_requested_at = coalesce(cancel_requested_at, $2) WHERE run_id = $1", [id, now.toISOString()]);
      }
      return this.one(c, "SELECT * FROM job_runs WHERE id = $1", [id]);
    });
  }

  async sweepExpired(now: Date, nodeId?: string): Promise<JobRun[]> {
    const expired = await this.pool.query("SELECT run_id FROM job_run_leases WHERE lease_until < $1 ORDER BY run_id", [now.toISOString()]);
    const out: JobRun[] = [];
    for (const { run_id } of expired.rows) {
      const done = await this.locked(String(run_id), async (c, run) => {
        const lease = await c.query("SELECT * FROM job_run_leases WHERE run_id = $1 AND lease_until < $2", [run.id, now.toISOString()]);
        if (run.status !== "running" || !lease.rows[0]) return null;
        const l = toLease(lease.rows[0]);
        await this.append(c, run, { status: "failed", error_code: ABANDONED, error_message: `lease of ${l.holder} expired at ${l.lease_until}`, ...(nodeId ? { node_id: nodeId } : {}) }, now);
        return this.one(c, "SELECT * FROM job_runs WHERE id = $1", [run.id]);
      });
      if (done) out.push(done);
    }
    return out;
  }

  async exportRows(): Promise<JobRow[]> {
    const runs = (await this.pool.query(`SELECT * FROM job_runs ORDER BY created_at, id COLLATE "C"`)).rows.map((r): JobRow => ({ kind: "run", data: toHeader(r) }));
    const ts = (await this.pool.query("SELECT * FROM job_run_transitions ORDER BY run_id, n")).rows.map((r): JobRow => ({ kind: "transition", data: toTransition(r) }));
    const ls = (await this.pool.query("SELECT * FROM job_run_leases ORDER BY run_id")).rows.map((r): JobRow => ({ kind: "lease", data: toLease(r) }));
    return [...runs, ...ts, ...ls];
  }

  /** Idempotent: runs and transitions already present are kept; leases are upserted. */
  async importRows(rows: JobRow[]): Promise<void> {
    const runs = rows.flatMap((r) => (r.kind === "run" ? [r.data] : []));
    const transitions = rows.flatMap((r) => (r.kind === "transition" ? [r.data] : []));
    const leases = rows.flatMap((r) => (r.kind === "lease" && !r.data.released ? [r.data] : []));
    await transaction(this.pool, async (c) => {
      await c.query(INSERT_RUN, [JSON.stringify(runs)]);
      await c.query(INSERT_TRANSITIONS, [JSON.stringify(transitions)]);
      if (leases.length) await c.query(UPSERT_LEASES, [JSON.stringify(leases)]);
    });
  }

  async clearRows(): Promise<void> {
    await this.pool.query("TRUNCATE job_runs, job_run_transitions, job_run_leases");
  }
}
