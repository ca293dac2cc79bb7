/**
 * Query bounds, filters and orders shared by the incident store backends (the SQL mirrors them),
 * and the input checks every backend applies before writing.
 */
import { invalid } from "../errors.js";
import { normaliseTime } from "../util/iso-time.js";
import {
  ARTIFACT_FORMATS,
  GRAPHS,
  MAX_ARTIFACT_BYTES,
  RUN_STATUSES,
  type ArtifactRecord,
  type EventQuery,
  type GraphRun,
  type IncidentEvent,
  type IncidentQuery,
  type IncidentRecord,
  type IncidentRow,
} from "./store.js";

export const INCIDENT_BOUNDS = {
  list: { defaultLimit: 50, maxLimit: 1000 },
  events: { defaultLimit: 1000, maxLimit: 100_000 },
  runs: { defaultLimit: 100, maxLimit: 10_000 },
} as const;

export function clampLimit(limit: number | undefined, bounds: { defaultLimit: number; maxLimit: number }): number {
  if (limit === undefined || !Number.isFinite(limit)) return bounds.defaultLimit;
  return Math.max(0, Math.min(Math.floor(limit), bounds.maxLimit));
}

const asList = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export function incidentMatches(r: IncidentRecord, q: IncidentQuery): boolean {
  const statuses = asList(q.status);
  const severities = asList(q.severity);
  if (statuses && !statuses.includes(r.status)) return false;
  if (severities && !severities.includes(r.severity)) return false;
  if (q.service !== undefined && r.service !== q.service) return false;
  if (q.env !== undefined && r.env !== q.env) return false;
  if (q.signature !== undefined && r.signature !== q.signature) return false;
  const started = Date.parse(r.started_at);
  if (q.since !== undefined && started < Date.parse(q.since)) return false;
  if (q.until !== undefined && started >= Date.parse(q.until)) return false;
  return true;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Newest started_at first, ties by id descending (byte order, like `COLLATE "C"`). */
export function byNewestStart(a: IncidentRecord, b: IncidentRecord): number {
  return Date.parse(b.started_at) - Date.parse(a.started_at) || cmp(b.id, a.id);
}

export function eventMatches(e: IncidentEvent, q: EventQuery, ids: Set<string> | undefined): boolean {
  if (ids && !ids.has(e.incident_id)) return false;
  if (q.type !== undefined && e.type !== q.type) return false;
  if (q.since !== undefined && Date.parse(e.ts) < Date.parse(q.since)) return false;
  return true;
}

/** Oldest updated first (what the repair sweep wants), ties by id. */
export function byOldestUpdate(a: GraphRun, b: GraphRun): number {
  return Date.parse(a.updated_at) - Date.parse(b.updated_at) || cmp(a.id, b.id);
}

export function runMatches(r: GraphRun, q: { status?: string[]; incident_id?: string; updated_before?: string }): boolean {
  if (q.status && !q.status.includes(r.status)) return false;
  if (q.incident_id !== undefined && r.incident_id !== q.incident_id) return false;
  if (q.updated_before !== undefined && Date.parse(r.updated_at) >= Date.parse(q.updated_before)) return false;
  return true;
}

/** A file name under `<artifacts dir>/<incident_id>/`: no separators, no leading dot. */
const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Checks an artifact record and returns it with `path` and timestamps normalised. */
export function checkArtifact(a: ArtifactRecord): ArtifactRecord {
  if (!ARTIFACT_NAME.test(a.name) || a.name.includes("..")) {
    throw invalid(`artifact name ${JSON.stringify(a.name)} is not a plain file name (letters, digits, . _ -)`);
  }
  if (!(ARTIFACT_FORMATS as readonly string[]).includes(a.format)) {
    throw invalid(`artifact format ${JSON.stringify(a.format)} is not allowed; allowed: ${ARTIFACT_FORMATS.join(", ")}`);
  }
  if (!Number.isInteger(a.bytes) || a.bytes < 0 || a.bytes > MAX_ARTIFACT_BYTES) {
    throw invalid(`artifact ${a.name} is ${a.bytes} bytes; the limit is ${MAX_ARTIFACT_BYTES}`);
  }
  const rec: ArtifactRecord = { ...a, path: `${a.incident_id}/${a.name}`, created_at: normaliseTime(a.created_at) };
  if (rec.run_id === undefined) delete rec.run_id;
  return rec;
}

const RUN_TIMES = ["created_at", "updated_at", "started_at", "finished_at"] as const;

/** Checks a run and returns a copy with timestamps normalised and absent fields dropped. */
export function checkRun(run: GraphRun): GraphRun {
  if (!(GRAPHS as readonly string[]).includes(run.graph)) throw invalid(`unknown graph ${JSON.stringify(run.graph)}; known: ${GRAPHS.join(", ")}`);
  checkRunStatus(run.status);
  return normaliseRun(run);
}

export function checkRunStatus(status: string): void {
  if (!(RUN_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`unknown run status ${JSON.stringify(status)}; known: ${RUN_STATUSES.join(", ")}`);
  }
}

export function normaliseRun(run: GraphRun): GraphRun {
  const out = structuredClone(run) as GraphRun & Record<string, unknown>;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  for (const f of RUN_TIMES) if (typeof out[f] === "string") out[f] = normaliseTime(out[f] as string);
  return out;
}

/** `run` with `patch` applied (undefined fields are ignored). */
export function patchRun(run: GraphRun, patch: Partial<GraphRun>): GraphRun {
  const next: GraphRun = { ...run };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || k === "id" || k === "graph" || k === "incident_id") continue;
    (next as unknown as Record<string, unknown>)[k] = v;
  }
  if (patch.status !== undefined) checkRunStatus(patch.status);
  return normaliseRun(next);
}

/** A row's identity in replay and in the JSONL file: events by id, artifacts by incident/name, states by signature. */
export function incidentRowKey(row: IncidentRow): string {
  switch (row.kind) {
    case "artifact":
      return `artifact:${row.data.incident_id}/${row.data.name}`;
    case "signature":
      return `signature:${row.data.signature}`;
    default:
      return `${row.kind}:${row.data.id}`;
  }
}
