/**
 * Incidents in Postgres. `absorbAlerts` is one transaction of a fixed number of statements
 * whatever the batch size: lock the batch's signature rows (created if missing) in signature
 * order, load the events holding its dedupe keys and the incidents the states name, run the same
 * planner as every backend, write everything in one statement. Two workers on overlapping
 * signatures serialise on those rows and never deadlock; the unique index on
 * incidents(signature_key) backs that up: a lost race fails and the transaction runs again.
 */
import { PostgresStore, type PostgresStoreOptions, where } from "../postgres-store.js";
import { notFound } from "../../errors.js";
import type { Severity } from "../../subjects/index.js";
import type { PoolClient } from "../pg.js";
import { planAbsorb } from "../../incidents/absorb-plan.js";
import { newEvent, planAck, planCloseIfUnchanged, planCreate, planEscalate, planStatus, type IncidentWrite } from "../../incidents/write-plans.js";
import { importIncidentRows } from "./postgres-import.js";
import * as SQL from "./postgres-sql.js";
import { tx } from "./postgres-sql.js";
import { checkArtifact, checkRun, clampLimit, INCIDENT_BOUNDS, patchRun } from "../../incidents/query-rules.js";
import type {
  AbsorbInput, AbsorbResult, AckOptions, AckResult, ArtifactRecord, BridgePolicy, EventQuery, GraphRun, GuardedClose, IncidentEvent, IncidentQuery, IncidentRecord,
  IncidentRow, IncidentStatus, IncidentStore, NewIncident, NewIncidentEvent, RunStatus, SignatureState,
} from "../../incidents/store.js";

export type PostgresIncidentStoreOptions = PostgresStoreOptions;

const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];
const asList = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export class PostgresIncidentStore extends PostgresStore implements IncidentStore {
  readonly backendName = "PostgresIncidentStore";

  private async write(c: PoolClient, incidents: IncidentRecord[], events: IncidentEvent[], states: SignatureState[], runs: GraphRun[]): Promise<void> {
    if (!incidents.length && !events.length && !states.length && !runs.length) return;
    await c.query(SQL.WRITE, [JSON.stringify(incidents), SQL.eventsJson(events), JSON.stringify(states), JSON.stringify(runs)]);
  }

  private writeOne(c: PoolClient, w: IncidentWrite): Promise<void> {
    return this.write(c, [w.incident], [w.event], w.state ? [w.state] : [], []);
  }

  private async slotFree(c: PoolClient, signature: string): Promise<boolean> {
    return !(await c.query("SELECT 1 FROM incidents WHERE signature_key = $1", [signature])).rowCount;
  }

  private async lockedState(c: PoolClient, signature: string): Promise<SignatureState | undefined> {
    const r = await c.query("SELECT * FROM incident_signature_state WHERE signature = $1 FOR UPDATE", [signature]);
    return r.rows[0] ? SQL.toState(r.rows[0]) : undefined;
  }

  create(input: NewIncident, now: Date): Promise<IncidentRecord> {
    return tx(this.pool, async (c) => {
      const sig = input.signature;
      let state: SignatureState | undefined;
      if (sig !== undefined) {
        const locked = await c.query(SQL.LOCK_SIGNATURES, [[sig], now.toISOString()]);
        state = SQL.toState(locked.rows[0]);
      }
      const free = sig !== undefined && (await this.slotFree(c, sig));
      let w = planCreate(input, state, free, now);
      // The id is claimed first: one drawn twice within its minute is drawn again, never written over the other incident.
      while (!(await c.query(SQL.CLAIM_INCIDENT_ID, [JSON.stringify([w.incident])])).rowCount) w = planCreate(input, state, free, now);
      await this.writeOne(c, w);
      return w.incident;
    });
  }

  async get(id: string): Promise<IncidentRecord | null> {
    const r = await this.pool.query("SELECT * FROM incidents WHERE id = $1", [id]);
    return r.rows[0] ? SQL.toIncident(r.rows[0]) : null;
  }

  async list(q: IncidentQuery): Promise<IncidentRecord[]> {
    const params: unknown[] = [];
    const w = where(params, [
      ["status = ANY($::text[])", asList(q.status)], ["severity = ANY($::text[])", asList(q.severity)],
      ["service = $", q.service], ["env = $", q.env], ["signature = $", q.signature],
      ["started_at >= $::timestamptz", q.since], ["started_at < $::timestamptz", q.until],
    ]);
    params.push(clampLimit(q.limit, INCIDENT_BOUNDS.list));
    const r = await this.pool.query(`SELECT * FROM incidents ${w} ORDER BY started_at DESC, id COLLATE "C" DESC LIMIT $${params.length}`, params);
    return r.rows.map(SQL.toIncident);
  }

  /** One statement in the usual case (a notifier writes one per send attempt); a second read only when nothing was inserted. */
  async appendEvent(incidentId: string, ev: NewIncidentEvent, now: Date): Promise<{ event: IncidentEvent; replayed: boolean }> {
    const event = newEvent(incidentId, ev, now);
    const ins = await this.pool.query(SQL.APPEND_EVENT, [SQL.eventsJson([event])]);
    if (ins.rowCount) return { event, replayed: false };
    // Not inserted: its dedupe key is recorded (a replay, or a racing writer: the insert waited for it), or no such incident.
    if (event.dedupe_key !== undefined) {
      const known = await this.pool.query("SELECT * FROM incident_events WHERE dedupe_key = $1", [event.dedupe_key]);
      if (known.rows[0]) return { event: SQL.toEvent(known.rows[0]), replayed: true };
    }
    throw notFound(`incident ${incidentId} not found`, { incident_id: incidentId });
  }

  async events(q: EventQuery): Promise<IncidentEvent[]> {
    const params: unknown[] = [];
    const w = where(params, [["incident_id = ANY($::text[])", q.incident_ids], ["type = $", q.type], ["ts >= $::timestamptz", q.since]]);
    params.push(clampLimit(q.limit, INCIDENT_BOUNDS.events));
    const r = await this.pool.query(`SELECT * FROM incident_events ${w} ORDER BY ts, seq LIMIT $${params.length}`, params);
    return r.rows.map(SQL.toEvent);
  }

  setStatus(id: string, status: IncidentStatus, opts: { by: string; resolution?: string }, now: Date): Promise<IncidentRecord> {
    return tx(this.pool, async (c) => {
      // Lock order of absorb: the signature row, then the incident.
      const head = await c.query<{ signature: string | null }>("SELECT signature FROM incidents WHERE id = $1", [id]);
      if (!head.rows[0]) throw notFound(`incident ${id} not found`, { incident_id: id });
      const sig = head.rows[0].signature ?? undefined;
      const state = sig === undefined ? undefined : await this.lockedState(c, sig);
      const cur = await c.query("SELECT * FROM incidents WHERE id = $1 FOR UPDATE", [id]);
      const inc = SQL.toIncident(cur.rows[0]);
      const reopening = inc.status === "closed" && status !== "closed";
      const free = sig !== undefined && reopening && (await this.slotFree(c, sig));
      const w = planStatus(inc, status, opts, state, free, now);
      if (!w) return inc;
      await this.writeOne(c, w);
      return w.incident;
    });
  }

  closeIfUnchanged(read: IncidentRecord, opts: GuardedClose, now: Date): Promise<{ incident: IncidentRecord; event: IncidentEvent } | null> {
    return tx(this.pool, async (c) => {
      // Lock order of absorb: the signature row, then the incident; an absorb of the signature
      // runs wholly before or after this, so it appends to the open incident or reopens the closed one.
      const state = read.signature === undefined ? undefined : await this.lockedState(c, read.signature);
      const cur = await c.query("SELECT * FROM incidents WHERE id = $1 FOR UPDATE", [read.id]);
      if (!cur.rows[0]) return null;
      const w = planCloseIfUnchanged(SQL.toIncident(cur.rows[0]), read, opts, state, now);
      if (!w) return null;
      await this.writeOne(c, w);
      return { incident: w.incident, event: w.event };
    });
  }

  acknowledge(id: string, by: string, now: Date, opts: AckOptions = {}): Promise<AckResult> {
    return this.ack(id, true, by, now, opts);
  }

  unacknowledge(id: string, by: string, now: Date, opts: AckOptions = {}): Promise<AckResult> {
    return this.ack(id, false, by, now, opts);
  }

  private ack(id: string, ack: boolean, by: string, now: Date, opts: AckOptions): Promise<AckResult> {
    return tx(this.pool, async (c) => {
      // Lock order of absorb: the signature row, then the incident. An absorb writes back the whole
      // incident it loaded, so it must not run between this read and this write (a lost ack).
      const head = await c.query<{ signature: string | null }>("SELECT signature FROM incidents WHERE id = $1", [id]);
      if (!head.rows[0]) throw notFound(`incident ${id} not found`, { incident_id: id });
      const sig = head.rows[0].signature ?? undefined;
      if (sig !== undefined) await this.lockedState(c, sig);
      const cur = await c.query("SELECT * FROM incidents WHERE id = $1 FOR UPDATE", [id]);
      const inc = SQL.toIncident(cur.rows[0]);
      const w = planAck(inc, ack, by, opts, now);
      if (!w) return { incident: inc, changed: false };
      await this.writeOne(c, w);
      return { incident: w.incident, changed: true, event: w.event };
    });
  }

  async alertRefs(incidentIds: string[]): Promise<Map<string, string[]>> {
    const ids = unique(incidentIds);
    const out = new Map<string, string[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const r = await this.pool.query<{ incident_id: string; refs: string[] }>(SQL.ALERT_REFS, [ids]);
    for (const row of r.rows) out.set(row.incident_id, row.refs);
    return out;
  }

  escalate(id: string, from: Severity, to: Severity, reason: string, by: string, now: Date): Promise<IncidentRecord | null> {
    return tx(this.pool, async (c) => {
      const cur = await c.query("SELECT * FROM incidents WHERE id = $1 FOR UPDATE", [id]);
      if (!cur.rows[0]) throw notFound(`incident ${id} not found`, { incident_id: id });
      const w = planEscalate(SQL.toIncident(cur.rows[0]), from, to, reason, by, now);
      if (!w) return null;
      await this.writeOne(c, w);
      return w.incident;
    });
  }

  async absorbAlerts(inputs: AbsorbInput[], policy: BridgePolicy, now: Date): Promise<AbsorbResult[]> {
    if (inputs.length === 0) return [];
    const sigs = unique(inputs.map((i) => i.signature));
    const keys = unique(inputs.map((i) => i.dedupe_key));
    return tx(this.pool, async (c) => {
      const locked = await c.query(SQL.LOCK_SIGNATURES, [sigs, now.toISOString()]);
      const states = new Map<string, SignatureState>();
      for (const row of locked.rows) states.set(row.signature, SQL.toState(row));
      const ids = unique([...states.values()].flatMap((s) => [s.open_incident_id, s.last_incident_id].filter((x): x is string => x !== undefined)));
      const loaded = await c.query<{ k: string; j: Record<string, unknown> }>(SQL.LOAD_FOR_ABSORB, [keys, ids]);
      const byKey = new Map<string, IncidentEvent>();
      const incidents = new Map<string, IncidentRecord>();
      for (const { k, j } of loaded.rows) {
        if (k === "e") {
          const e = SQL.toEvent(j);
          byKey.set(e.dedupe_key!, e);
        } else {
          const i = SQL.toIncident(j);
          incidents.set(i.id, i);
        }
      }
      // A new incident's id drawn twice in one minute would upsert over the other incident: ids
      // found taken are excluded and the (pure) plan made again.
      const taken = new Set<string>();
      for (;;) {
        const plan = planAbsorb(inputs, policy, now, {
          signature: (s) => states.get(s),
          incident: (id) => incidents.get(id),
          eventByKey: (k) => byKey.get(k),
          idTaken: (id) => taken.has(id),
        });
        const fresh = plan.incidents.filter((i) => !incidents.has(i.id)).map((i) => i.id);
        const clash = fresh.length ? (await c.query<{ id: string }>("SELECT id FROM incidents WHERE id = ANY($1::text[])", [fresh])).rows : [];
        if (clash.length === 0) {
          await this.write(c, plan.incidents, plan.events, plan.signatures, plan.runs);
          return plan.results;
        }
        for (const r of clash) taken.add(r.id);
      }
    });
  }

  async signatureState(signature: string): Promise<SignatureState | null> {
    const r = await this.pool.query("SELECT * FROM incident_signature_state WHERE signature = $1", [signature]);
    return r.rows[0] ? SQL.toState(r.rows[0]) : null;
  }

  async putArtifact(a: ArtifactRecord): Promise<ArtifactRecord> {
    const rec = checkArtifact(a);
    const r = await this.pool.query(SQL.UPSERT_ARTIFACTS(false), [JSON.stringify([rec])]);
    if (!r.rows[0]) throw notFound(`incident ${rec.incident_id} not found`, { incident_id: rec.incident_id });
    return SQL.toArtifact(r.rows[0]);
  }

  async artifacts(incidentId: string): Promise<ArtifactRecord[]> {
    const r = await this.pool.query(`SELECT * FROM incident_artifacts WHERE incident_id = $1 ORDER BY created_at, name COLLATE "C"`, [incidentId]);
    return r.rows.map(SQL.toArtifact);
  }

  async createRun(run: GraphRun): Promise<GraphRun> {
    const rec = checkRun(run);
    const r = await this.pool.query(SQL.INSERT_RUN, [JSON.stringify([rec])]);
    if (r.rows[0]) return SQL.toRun(r.rows[0]);
    const existing = await this.getRun(rec.id);
    if (existing) return existing;
    throw notFound(`incident ${rec.incident_id} not found`, { incident_id: rec.incident_id });
  }

  async getRun(id: string): Promise<GraphRun | null> {
    const r = await this.pool.query("SELECT * FROM graph_runs WHERE id = $1", [id]);
    return r.rows[0] ? SQL.toRun(r.rows[0]) : null;
  }

  updateRun(id: string, fromStatus: RunStatus[], patch: Partial<Omit<GraphRun, "id" | "graph" | "incident_id">>): Promise<GraphRun | null> {
    return tx(this.pool, async (c) => {
      const cur = await c.query("SELECT * FROM graph_runs WHERE id = $1 FOR UPDATE", [id]);
      if (!cur.rows[0]) return null;
      const run = SQL.toRun(cur.rows[0]);
      if (!fromStatus.includes(run.status)) return null;
      const next = patchRun(run, patch);
      const r = await c.query(SQL.UPDATE_RUN, [JSON.stringify([next])]);
      return SQL.toRun(r.rows[0]);
    });
  }

  async listRuns(q: { status?: RunStatus[]; incident_id?: string; updated_before?: string; limit?: number }): Promise<GraphRun[]> {
    const params: unknown[] = [];
    const w = where(params, [["status = ANY($::text[])", q.status], ["incident_id = $", q.incident_id], ["updated_at < $::timestamptz", q.updated_before]]);
    params.push(clampLimit(q.limit, INCIDENT_BOUNDS.runs));
    const r = await this.pool.query(`SELECT * FROM graph_runs ${w} ORDER BY updated_at, id COLLATE "C" LIMIT $${params.length}`, params);
    return r.rows.map(SQL.toRun);
  }

  async exportRows(): Promise<IncidentRow[]> {
    const q = async (sql: string) => (await this.pool.query(sql)).rows;
    return [
      ...(await q(`SELECT * FROM incidents ORDER BY created_at, id COLLATE "C"`)).map((r): IncidentRow => ({ kind: "incident", data: SQL.toIncident(r) })),
      ...(await q("SELECT * FROM incident_events ORDER BY seq")).map((r): IncidentRow => ({ kind: "event", data: SQL.toEvent(r) })),
      ...(await q(`SELECT * FROM incident_artifacts ORDER BY incident_id COLLATE "C", name COLLATE "C"`)).map((r): IncidentRow => ({ kind: "artifact", data: SQL.toArtifact(r) })),
      ...(await q(`SELECT * FROM incident_signature_state ORDER BY signature COLLATE "C"`)).map((r): IncidentRow => ({ kind: "signature", data: SQL.toState(r) })),
      ...(await q(`SELECT * FROM graph_runs ORDER BY created_at, id COLLATE "C"`)).map((r): IncidentRow => ({ kind: "run", data: SQL.toRun(r) })),
    ];
  }

  /** Idempotent; see importIncidentRows. */
  importRows(rows: IncidentRow[]): Promise<void> {
    return importIncidentRows(this.pool, rows);
  }

  async clearRows(): Promise<void> {
    await this.pool.query("TRUNCATE incidents, incident_events, incident_artifacts, incident_signature_state, graph_runs");
  }
}
