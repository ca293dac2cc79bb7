/**
 * The memory (and so JSONL) incident store's secondary indexes, maintained as rows are applied —
 * on every write and while a JSONL file loads — so reads cost what they return, not what the
 * store holds: incidents by service, signature, open status and started_at; events, artifacts and
 * runs by incident; runs by status. The Postgres backend has the same as SQL indexes
 * (ops/migrations/004 and 008).
 */
import type { ArtifactRecord, GraphRun, IncidentEvent, IncidentQuery, IncidentRecord, RunStatus } from "../../incidents/store.js";
import { TimeIndex } from "../time-index.js";

const EMPTY: ReadonlySet<string> = new Set();

function addTo<K>(map: Map<K, Set<string>>, key: K, id: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom<K>(map: Map<K, Set<string>>, key: K, id: string): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) map.delete(key);
}

/** A bound as epoch ms; absent or unparseable bounds nothing (as `incidentMatches` treats it). */
function boundOf(iso: string | undefined, fallback: number): number {
  const ms = iso === undefined ? NaN : Date.parse(iso);
  return Number.isNaN(ms) ? fallback : ms;
}

export class IncidentIndexes {
  readonly byStart = new TimeIndex();
  private readonly byService = new Map<string, Set<string>>();
  private readonly bySignature = new Map<string, Set<string>>();
  /** Incidents not closed (open or mitigating). */
  private readonly notClosed = new Set<string>();
  private readonly eventsOf = new Map<string, string[]>();
  /** Event id → order of first insertion: ties between events of one ts keep it, as the full scan did. */
  private readonly eventSeq = new Map<string, number>();
  private readonly artifactsOf = new Map<string, Set<string>>();
  private readonly runsOf = new Map<string, Set<string>>();
  private readonly runsIn = new Map<RunStatus, Set<string>>();

  incident(prev: IncidentRecord | undefined, rec: IncidentRecord): void {
    if (prev && prev.service !== rec.service) removeFrom(this.byService, prev.service, prev.id);
    if (prev?.signature !== undefined && prev.signature !== rec.signature) removeFrom(this.bySignature, prev.signature, prev.id);
    addTo(this.byService, rec.service, rec.id);
    if (rec.signature !== undefined) addTo(this.bySignature, rec.signature, rec.id);
    if (rec.status === "closed") this.notClosed.delete(rec.id);
    else this.notClosed.add(rec.id);
    this.byStart.set(rec.id, Date.parse(rec.started_at));
  }

  event(e: IncidentEvent): void {
    if (this.eventSeq.has(e.id)) return;
    this.eventSeq.set(e.id, this.eventSeq.size);
    const list = this.eventsOf.get(e.incident_id);
    if (list) list.push(e.id);
    else this.eventsOf.set(e.incident_id, [e.id]);
  }

  artifact(key: string, a: Pick<ArtifactRecord, "incident_id">): void {
    addTo(this.artifactsOf, a.incident_id, key);
  }

  run(prev: GraphRun | undefined, run: GraphRun): void {
    if (prev && prev.status !== run.status) removeFrom(this.runsIn, prev.status, prev.id);
    addTo(this.runsIn, run.status, run.id);
    addTo(this.runsOf, run.incident_id, run.id);
  }

  clear(): void {
    for (const m of [this.byService, this.bySignature, this.eventsOf, this.eventSeq, this.artifactsOf, this.runsOf, this.runsIn]) m.clear();
    this.notClosed.clear();
    this.byStart.clear();
  }

  /**
   * Ids of the incidents `q` can match, newest started_at first (ties by id descending), read from
   * the narrowest index that applies; the caller still filters with `incidentMatches` and stops at
   * its limit. Without a service, signature or open-status filter the started_at index is walked
   * from `until` back to `since`, so a window read stops after `limit` matches.
   */
  incidentCandidates(q: IncidentQuery, limit = Infinity): Iterable<string> {
    const sets: Array<ReadonlySet<string>> = [];
    if (q.signature !== undefined) sets.push(this.bySignature.get(q.signature) ?? EMPTY);
    if (q.service !== undefined) sets.push(this.byService.get(q.service) ?? EMPTY);
    const statuses = q.status === undefined ? undefined : Array.isArray(q.status) ? q.status : [q.status];
    if (statuses && !statuses.includes("closed")) sets.push(this.notClosed);
    const lo = boundOf(q.since, -Infinity);
    const hi = boundOf(q.until, Infinity);
    if (sets.length === 0) return this.byStart.newestFirst(lo, hi);
    const smallest = sets.reduce((a, b) => (b.size < a.size ? b : a));
    // A set much larger than the page (25,000 open incidents for a status page of 1,000): walk
    // started_at newest first and keep its members, instead of sorting the whole set.
    if (smallest.size > 4 * limit) return this.members(smallest, lo, hi);
    const at = (id: string) => this.byStart.timeOf(id) ?? NaN;
    const ids = [...smallest].filter((id) => !(at(id) < lo) && !(at(id) >= hi));
    return ids.sort((a, b) => at(b) - at(a) || (a < b ? 1 : a > b ? -1 : 0));
  }

  private *members(set: ReadonlySet<string>, lo: number, hi: number): Generator<string> {
    for (const id of this.byStart.newestFirst(lo, hi)) if (set.has(id)) yield id;
  }

  /** Event ids of the incidents in insertion order per incident, and each event's global order. */
  eventIds(incidentIds: Iterable<string>): string[] {
    const out: string[] = [];
    for (const id of new Set(incidentIds)) out.push(...(this.eventsOf.get(id) ?? []));
    return out;
  }

  eventOrder(id: string): number {
    return this.eventSeq.get(id) ?? 0;
  }

  artifactKeys(incidentId: string): Iterable<string> {
    return this.artifactsOf.get(incidentId) ?? EMPTY;
  }

  /** Run ids of one incident or of some statuses; undefined when neither narrows (read them all). */
  runIds(q: { status?: RunStatus[]; incident_id?: string }): Iterable<string> | undefined {
    if (q.incident_id !== undefined) return this.runsOf.get(q.incident_id) ?? EMPTY;
    if (q.status) return q.status.flatMap((s) => [...(this.runsIn.get(s) ?? EMPTY)]);
    return undefined;
  }
}
