/**
 * SQL of the Postgres incident store, and the mapping between rows and records. Writes take whole
 * batches as jsonb (jsonb_to_recordset), never one row per round trip.
 */
import { iso, isoOrUndefined, RetryTransaction, withRetry, withTransaction, type Pool, type PoolClient } from "../pg.js";
import type { ArtifactRecord, GraphRun, IncidentEvent, IncidentRecord, SignatureState } from "../../incidents/store.js";

/** Lost races (deadlock, serialization, a unique key taken meanwhile) run the transaction again. */
const ATTEMPTS = 10;

export function tx<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withRetry(
    () => withTransaction(pool, fn).catch((err: unknown) => {
      if ((err as { code?: unknown })?.code === "23505") throw new RetryTransaction(`unique key taken meanwhile: ${(err as Error).message}`);
      throw err;
    }),
    { attempts: ATTEMPTS },
  );
}

type Columns = ReadonlyArray<readonly [string, string]>;

const INCIDENT: Columns = [
  ["id", "text"], ["service", "text"], ["env", "text"], ["severity", "text"], ["title", "text"], ["status", "text"],
  ["signature", "text"], ["signature_key", "text"], ["started_at", "timestamptz"], ["created_at", "timestamptz"],
  ["updated_at", "timestamptz"], ["closed_at", "timestamptz"], ["resolution", "text"], ["created_by", "text"],
  ["alert_count", "integer"], ["last_alert_at", "timestamptz"], ["reopened_count", "integer"], ["labels", "jsonb"],
  ["acknowledged_at", "timestamptz"], ["acknowledged_by", "text"],
];
const EVENT: Columns = [
  ["id", "text"], ["incident_id", "text"], ["ts", "timestamptz"], ["type", "text"], ["message", "text"],
  ["author", "text"], ["meta", "jsonb"], ["dedupe_key", "text"],
];
const ARTIFACT: Columns = [
  ["incident_id", "text"], ["name", "text"], ["format", "text"], ["path", "text"], ["bytes", "bigint"],
  ["sha256", "text"], ["created_at", "timestamptz"], ["created_by", "text"], ["run_id", "text"],
];
const STATE: Columns = [
  ["signature", "text"], ["open_incident_id", "text"], ["last_incident_id", "text"], ["last_alert_at", "timestamptz"],
  ["last_triage_at", "timestamptz"], ["updated_at", "timestamptz"],
];
const RUN: Columns = [
  ["id", "text"], ["graph", "text"], ["incident_id", "text"], ["status", "text"], ["requested_by", "text"],
  ['"trigger"', "text"], ["created_at", "timestamptz"], ["updated_at", "timestamptz"], ["started_at", "timestamptz"],
  ["finished_at", "timestamptz"], ["attempts", "integer"], ["error", "text"], ["artifacts", "jsonb"],
];

const names = (cols: Columns) => cols.map(([c]) => c).join(", ");
const excluded = (cols: Columns) => cols.map(([c]) => `EXCLUDED.${c}`).join(", ");
const recordset = (param: string, cols: Columns, extra = "") =>
  `jsonb_to_recordset(${param}::jsonb) AS x(${cols.map(([c, t]) => `${c} ${t}`).join(", ")}${extra})`;

/** Upserts incidents from jsonb `$n`. Rows losing their signature_key go first, so a supersede in
 *  the same statement frees the slot before the new holder takes it (the unique index checks each row). */
const upsertIncidents = (n: string, onlyNewer: boolean) => `
  INSERT INTO incidents (${names(INCIDENT)}) SELECT ${names(INCIDENT)} FROM ${recordset(n, INCIDENT)}
  ORDER BY (signature_key IS NOT NULL), id COLLATE "C"
  ON CONFLICT (id) DO UPDATE SET (${names(INCIDENT)}) = (${excluded(INCIDENT)})
  ${onlyNewer ? "WHERE EXCLUDED.updated_at >= incidents.updated_at" : ""}`;

/** $1 one new incident (jsonb array): inserted unless its id is taken (rowCount 0); a claim of the same id in flight is waited for. */
export const CLAIM_INCIDENT_ID = `INSERT INTO incidents (${names(INCIDENT)}) SELECT ${names(INCIDENT)} FROM ${recordset("$1", INCIDENT)} ON CONFLICT (id) DO NOTHING`;

/** Only rows whose incident exists (import: children of unknown incidents are dropped). */
const PARENT = "WHERE EXISTS (SELECT 1 FROM incidents i WHERE i.id = x.incident_id)";

/** Events from jsonb `$n` (each with `ord`, its position, so seq follows the batch's order). */
const insertEvents = (n: string, parent: boolean, ignoreConflicts: boolean) => `
  INSERT INTO incident_events (${names(EVENT)})
  SELECT ${names(EVENT)} FROM ${recordset(n, EVENT, ", ord integer")} ${parent ? PARENT : ""}
  ORDER BY ord ${ignoreConflicts ? "ON CONFLICT DO NOTHING" : ""}`;

const upsertStates = (n: string, onlyNewer: boolean) => `
  INSERT INTO incident_signature_state (${names(STATE)}) SELECT ${names(STATE)} FROM ${recordset(n, STATE)}
  ORDER BY signature COLLATE "C"
  ON CONFLICT (signature) DO UPDATE SET (${names(STATE)}) = (${excluded(STATE)})
  ${onlyNewer ? "WHERE EXCLUDED.updated_at >= incident_signature_state.updated_at" : ""}`;

/** Runs from jsonb `$n`: new ones only, or (import) newer versions replacing older. */
const upsertRuns = (n: string, forImport: boolean, parent = forImport) => `
  INSERT INTO graph_runs (${names(RUN)}) SELECT ${names(RUN)} FROM ${recordset(n, RUN)} ${parent ? PARENT : ""}
  ORDER BY id COLLATE "C"
  ON CONFLICT (id) DO ${forImport ? `UPDATE SET (${names(RUN)}) = (${excluded(RUN)}) WHERE EXCLUDED.updated_at >= graph_runs.updated_at` : "NOTHING"}`;

/**
 * One write of everything a plan produced: $1 incidents, $2 events, $3 signature states, $4 runs
 * (jsonb arrays). Foreign keys are checked at the end of the statement, so events and runs of an
 * incident created here are fine. A dedupe key recorded meanwhile fails with 23505 (retried).
 */
export const WRITE = `
  WITH inc AS (${upsertIncidents("$1", false)} RETURNING 1),
  ev AS (${insertEvents("$2", false, false)} RETURNING 1),
  st AS (${upsertStates("$3", false)} RETURNING 1),
  run AS (${upsertRuns("$4", false)} RETURNING 1)
  SELECT (SELECT count(*) FROM ev)::int AS events`;

/**
 * $1 signatures, $2 now: makes sure each has a state row and locks them all, in signature order
 * (two workers never deadlock on them); returns each state as of its latest committed version.
 */
export const LOCK_SIGNATURES = `
  INSERT INTO incident_signature_state (signature, updated_at)
  SELECT s, $2::timestamptz FROM unnest($1::text[]) AS s ORDER BY s COLLATE "C"
  ON CONFLICT (signature) DO UPDATE SET signature = EXCLUDED.signature
  RETURNING *`;

/** $1 dedupe keys, $2 incident ids: the events holding the keys and the incidents, as jsonb. */
export const LOAD_FOR_ABSORB = `
  SELECT 'e' AS k, to_jsonb(e) AS j FROM incident_events e WHERE e.dedupe_key = ANY($1::text[])
  UNION ALL
  SELECT 'i', to_jsonb(i) FROM incidents i WHERE i.id = ANY($2::text[])`;

/** $1 incident ids: each one's absorbed alert refs (auto-resolve-plan.ts absorbedAlertRef, in SQL). */
export const ALERT_REFS = `
  SELECT incident_id, array_agg(DISTINCT meta->>'alert_ref') AS refs FROM incident_events
  WHERE incident_id = ANY($1::text[]) AND type IN ('alert', 'note') AND jsonb_typeof(meta->'alert_ref') = 'string' AND meta->>'alert_ref' <> ''
  GROUP BY incident_id`;

/** Import statements ($1 jsonb): newer versions win; events are only added. */
export const IMPORT_INCIDENTS = upsertIncidents("$1", true);
export const IMPORT_EVENTS = insertEvents("$1", true, true);
/** $1 one event: not inserted (rowCount 0) when its incident is missing or its dedupe key is taken. */
export const APPEND_EVENT = `${insertEvents("$1", true, true)} RETURNING id`;
export const IMPORT_STATES = upsertStates("$1", true);
export const IMPORT_RUNS = upsertRuns("$1", true);
export const UPSERT_ARTIFACTS = (onlyNewer: boolean) => `
  INSERT INTO incident_artifacts (${names(ARTIFACT)}) SELECT ${names(ARTIFACT)} FROM ${recordset("$1", ARTIFACT)} ${PARENT}
  ORDER BY incident_id COLLATE "C", name COLLATE "C"
  ON CONFLICT (incident_id, name) DO UPDATE SET (${names(ARTIFACT)}) = (${excluded(ARTIFACT)})
  ${onlyNewer ? "WHERE EXCLUDED.created_at >= incident_artifacts.created_at" : ""}
  RETURNING *`;

/** $1 one run (jsonb array): inserted if its incident exists and the id is new. */
export const INSERT_RUN = `${upsertRuns("$1", false, true)} RETURNING *`;

const RUN_MUTABLE = RUN.filter(([c]) => !["id", "graph", "incident_id"].includes(c));

/** $1 the run's new version (jsonb array of one). */
export const UPDATE_RUN = `
  UPDATE graph_runs g SET (${names(RUN_MUTABLE)}) = (${RUN_MUTABLE.map(([c]) => `x.${c}`).join(", ")})
  FROM ${recordset("$1", RUN)} WHERE g.id = x.id RETURNING g.*`;

/** Events as jsonb for WRITE / IMPORT_EVENTS. */
export function eventsJson(events: IncidentEvent[]): string {
  return JSON.stringify(events.map((e, ord) => ({ ...e, ord })));
}

const opt = (rec: Record<string, unknown>, row: Record<string, unknown>, fields: readonly string[]) => {
  for (const f of fields) if (row[f] !== null && row[f] !== undefined) rec[f] = row[f];
};
const optTime = (rec: Record<string, unknown>, row: Record<string, unknown>, fields: readonly string[]) => {
  for (const f of fields) {
    const t = isoOrUndefined(row[f]);
    if (t !== undefined) rec[f] = t;
  }
};

/** A row (or its to_jsonb form) as a record: NULL columns become absent fields. */
export function toIncident(row: Record<string, unknown>): IncidentRecord {
  const rec: Record<string, unknown> = {
    id: row.id, service: row.service, env: row.env, severity: row.severity, title: row.title, status: row.status,
    started_at: iso(row.started_at), created_at: iso(row.created_at), updated_at: iso(row.updated_at),
    created_by: row.created_by, alert_count: Number(row.alert_count), reopened_count: Number(row.reopened_count),
    labels: row.labels ?? {},
  };
  opt(rec, row, ["signature", "signature_key", "resolution", "acknowledged_by"]);
  optTime(rec, row, ["closed_at", "last_alert_at", "acknowledged_at"]);
  return rec as unknown as IncidentRecord;
}

export function toEvent(row: Record<string, unknown>): IncidentEvent {
  const rec: Record<string, unknown> = {
    id: row.id, incident_id: row.incident_id, ts: iso(row.ts), type: row.type, message: row.message,
    author: row.author, meta: row.meta ?? {},
  };
  opt(rec, row, ["dedupe_key"]);
  return rec as unknown as IncidentEvent;
}

export function toArtifact(row: Record<string, unknown>): ArtifactRecord {
  const rec: Record<string, unknown> = {
    incident_id: row.incident_id, name: row.name, format: row.format, path: row.path, bytes: Number(row.bytes),
    sha256: row.sha256, created_at: iso(row.created_at), created_by: row.created_by,
  };
  opt(rec, row, ["run_id"]);
  return rec as unknown as ArtifactRecord;
}

export function toState(row: Record<string, unknown>): SignatureState {
  const rec: Record<string, unknown> = { signature: row.signature, updated_at: iso(row.updated_at) };
  opt(rec, row, ["open_incident_id", "last_incident_id"]);
  optTime(rec, row, ["last_alert_at", "last_triage_at"]);
  return rec as unknown as SignatureState;
}

export function toRun(row: Record<string, unknown>): GraphRun {
  const rec: Record<string, unknown> = {
    id: row.id, graph: row.graph, incident_id: row.incident_id, status: row.status, requested_by: row.requested_by,
    trigger: row.trigger, created_at: iso(row.created_at), updated_at: iso(row.updated_at),
    attempts: Number(row.attempts), artifacts: row.artifacts ?? [],
  };
  opt(rec, row, ["error"]);
  optTime(rec, row, ["started_at", "finished_at"]);
  return rec as unknown as GraphRun;
}
