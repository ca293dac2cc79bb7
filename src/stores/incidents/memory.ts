/**
 * Incidents held in Maps. For tests and dev; the factory refuses it in prod. The JSONL backend
 * extends it with a file under the same state.
 *
 * Mutations run one at a time (load → plan → persist → apply inside `exclusive`), which is what
 * keeps two absorbs from opening two incidents for one signature here; `slots` (signature_key →
 * incident) is checked before every write as the same guard Postgres' unique index gives.
 */
import { RowStore } from "../row-store.js";
import { notFound } from "../../errors.js";
import { checkSlots, writeRows } from "./memory-slots.js";
import type { Severity } from "../../subjects/index.js";
import { planAbsorb } from "../../incidents/absorb-plan.js";
import { IncidentIndexes } from "./indexes.js";
import { importedRows } from "./memory-import.js";
import { newEvent, planAck, planCloseIfUnchanged, planCreate, planEscalate, planStatus } from "../../incidents/write-plans.js";
import { absorbedAlertRef } from "../../incidents/auto-resolve-plan.js";
import {
  byOldestUpdate, checkArtifact, checkRun, clampLimit, eventMatches, INCIDENT_BOUNDS, incidentMatches, patchRun,
  runMatches,
} from "../../incidents/query-rules.js";
import type {
  AbsorbInput, AbsorbResult, AckOptions, AckResult, ArtifactRecord, BridgePolicy, EventQuery, GraphRun, GuardedClose, IncidentEvent, IncidentQuery, IncidentRecord,
  IncidentRow, IncidentStatus, IncidentStore, NewIncident, NewIncidentEvent, RunStatus, SignatureState,
} from "../../incidents/store.js";

const clone = <T>(value: T): T => structuredClone(value);
const artifactKey = (a: Pick<ArtifactRecord, "incident_id" | "name">) => `${a.incident_id}/${a.name}`;


export class MemoryIncidentStore extends RowStore<IncidentRow> implements IncidentStore {
  readonly backendName: string = "MemoryIncidentStore";
  protected incidents = new Map<string, IncidentRecord>();
  /** In insertion order, which breaks ties between events of the same ts. */
  protected eventsById = new Map<string, IncidentEvent>();
  protected eventKeys = new Map<string, string>();
  protected artifactsByKey = new Map<string, ArtifactRecord>();
  protected signatures = new Map<string, SignatureState>();
  protected runs = new Map<string, GraphRun>();
  /** signature_key → the incident holding it. */
  protected slots = new Map<string, string>();
  /** Service, signature, status, started_at and per-incident indexes, kept in step by apply(). */
  protected indexes = new IncidentIndexes();

  protected liveCount(): number {
    return this.incidents.size + this.eventsById.size + this.artifactsByKey.size + this.signatures.size + this.runs.size;
  }

  /** Puts a row (already persisted) into the maps. */
  protected apply(row: IncidentRow): void {
    switch (row.kind) {
      case "incident": {
        const rec = row.data;
        const prev = this.incidents.get(rec.id);
        if (prev?.signature_key !== undefined && this.slots.get(prev.signature_key) === rec.id) this.slots.delete(prev.signature_key);
        this.incidents.set(rec.id, rec);
        this.indexes.incident(prev, rec);
        if (rec.signature_key !== undefined) this.slots.set(rec.signature_key, rec.id);
        return;
      }
      case "event":
        this.eventsById.set(row.data.id, row.data);
        this.indexes.event(row.data);
        if (row.data.dedupe_key !== undefined) this.eventKeys.set(row.data.dedupe_key, row.data.id);
        return;
      case "artifact":
        this.artifactsByKey.set(artifactKey(row.data), row.data);
        this.indexes.artifact(artifactKey(row.data), row.data);
        return;
      case "signature":
        this.signatures.set(row.data.signature, row.data);
        return;
      case "run":
        this.indexes.run(this.runs.get(row.data.id), row.data);
        this.runs.set(row.data.id, row.data);
        return;
      default: // a kind this version does not know: ignored
    }
  }

  protected async write(rows: IncidentRow[]): Promise<void> {
    if (rows.length === 0) return;
    checkSlots(rows, this.slots);
    await this.persist(rows);
    for (const row of rows) this.apply(row);
  }

  private incidentOr404(id: string): IncidentRecord {
    const inc = this.incidents.get(id);
    if (!inc) throw notFound(`incident ${id} not found`, { incident_id: id });
    return inc;
  }

  create(input: NewIncident, now: Date): Promise<IncidentRecord> {
    return this.exclusive(async () => {
      const sig = input.signature;
      const w = planCreate(input, sig === undefined ? undefined : this.signatures.get(sig), sig !== undefined && !this.slots.has(sig), now, (id) => this.incidents.has(id));
      await this.write(writeRows(w));
      return clone(w.incident);
    });
  }

  async get(id: string): Promise<IncidentRecord | null> {
    const rec = this.incidents.get(id);
    return rec ? clone(rec) : null;
  }

  /** Reads the narrowest index (see IncidentIndexes.incidentCandidates), newest first, up to the limit. */
  async list(q: IncidentQuery): Promise<IncidentRecord[]> {
    const limit = clampLimit(q.limit, INCIDENT_BOUNDS.list);
    const out: IncidentRecord[] = [];
    if (limit === 0) return out;
    for (const id of this.indexes.incidentCandidates(q, limit)) {
      const rec = this.incidents.get(id);
      if (rec && incidentMatches(rec, q)) out.push(rec);
      if (out.length >= limit) break;
    }
    return clone(out);
  }

  appendEvent(incidentId: string, ev: NewIncidentEvent, now: Date): Promise<{ event: IncidentEvent; replayed: boolean }> {
    return this.exclusive(async () => {
      const known = ev.dedupe_key === undefined ? undefined : this.eventKeys.get(ev.dedupe_key);
      if (known !== undefined) return { event: clone(this.eventsById.get(known)!), replayed: true };
      this.incidentOr404(incidentId);
      const event = newEvent(incidentId, ev, now);
      await this.write([{ kind: "event", data: event }]);
      return { event: clone(event), replayed: false };
    });
  }

  async events(q: EventQuery): Promise<IncidentEvent[]> {
    const ids = q.incident_ids ? new Set(q.incident_ids) : undefined;
    // Of some incidents: their own events only (indexed), not every event of the store.
    const from = ids ? this.indexes.eventIds(ids).map((id) => this.eventsById.get(id)!) : [...this.eventsById.values()];
    const out = from.filter((e) => eventMatches(e, q, ids));
    const order = (e: IncidentEvent) => this.indexes.eventOrder(e.id);
    out.sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts) || order(a) - order(b)); // insertion order on ties
    return clone(out.slice(0, clampLimit(q.limit, INCIDENT_BOUNDS.events)));
  }

  setStatus(id: string, status: IncidentStatus, opts: { by: string; resolution?: string }, now: Date): Promise<IncidentRecord> {
    return this.exclusive(async () => {
      const inc = this.incidentOr404(id);
      const sig = inc.signature;
      const w = planStatus(inc, status, opts, sig === undefined ? undefined : this.signatures.get(sig), sig !== undefined && !this.slots.has(sig), now);
      if (!w) return clone(inc);
      await this.write(writeRows(w));
      return clone(w.incident);
    });
  }

  acknowledge(id: string, by: string, now: Date, opts: AckOptions = {}): Promise<AckResult> {
    return this.ack(id, true, by, now, opts);
  }

  unacknowledge(id: string, by: string, now: Date, opts: AckOptions = {}): Promise<AckResult> {
    return this.ack(id, false, by, now, opts);
  }

  private ack(id: string, ack: boolean, by: string, now: Date, opts: AckOptions): Promise<AckResult> {
    return this.exclusive(async () => {
      const inc = this.incidentOr404(id);
      const w = planAck(inc, ack, by, opts, now);
      if (!w) return { incident: clone(inc), changed: false };
      await this.write(writeRows(w));
      return clone({ incident: w.incident, changed: true, event: w.event });
    });
  }

  escalate(id: string, from: Severity, to: Severity, reason: string, by: string, now: Date): Promise<IncidentRecord | null> {
    return this.exclusive(async () => {
      const w = planEscalate(this.incidentOr404(id), from, to, reason, by, now);
      if (!w) return null;
      await this.write(writeRows(w));
      return clone(w.incident);
    });
  }

  closeIfUnchanged(read: IncidentRecord, opts: GuardedClose, now: Date): Promise<{ incident: IncidentRecord; event: IncidentEvent } | null> {
    return this.exclusive(async () => {
      const cur = this.incidents.get(read.id);
      const sig = cur?.signature;
      const w = cur && planCloseIfUnchanged(cur, read, opts, sig === undefined ? undefined : this.signatures.get(sig), now);
      if (!w) return null;
      await this.write(writeRows(w));
      return clone({ incident: w.incident, event: w.event });
    });
  }

  async alertRefs(incidentIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const id of new Set(incidentIds)) {
      const refs = this.indexes.eventIds([id]).flatMap((e) => absorbedAlertRef(this.eventsById.get(e)!) ?? []);
      out.set(id, [...new Set(refs)]);
    }
    return out;
  }

  absorbAlerts(inputs: AbsorbInput[], policy: BridgePolicy, now: Date): Promise<AbsorbResult[]> {
    return this.exclusive(async () => {
      const plan = planAbsorb(inputs, policy, now, {
        signature: (sig) => this.signatures.get(sig),
        incident: (id) => this.incidents.get(id),
        eventByKey: (key) => {
          const id = this.eventKeys.get(key);
          return id === undefined ? undefined : this.eventsById.get(id);
        },
        idTaken: (id) => this.incidents.has(id),
      });
      // The plan's records are fresh objects owned by the store from here on.
      await this.write([
        ...plan.incidents.map((data): IncidentRow => ({ kind: "incident", data })),
        ...plan.events.map((data): IncidentRow => ({ kind: "event", data })),
        ...plan.signatures.map((data): IncidentRow => ({ kind: "signature", data })),
        ...plan.runs.map((data): IncidentRow => ({ kind: "run", data })),
      ]);
      return plan.results;
    });
  }

  async signatureState(signature: string): Promise<SignatureState | null> {
    const s = this.signatures.get(signature);
    return s ? clone(s) : null;
  }

  putArtifact(a: ArtifactRecord): Promise<ArtifactRecord> {
    return this.exclusive(async () => {
      const rec = checkArtifact(a);
      this.incidentOr404(rec.incident_id);
      await this.write([{ kind: "artifact", data: rec }]);
      return clone(rec);
    });
  }

  async artifacts(incidentId: string): Promise<ArtifactRecord[]> {
    const out = [...this.indexes.artifactKeys(incidentId)].flatMap((k) => this.artifactsByKey.get(k) ?? []);
    out.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return clone(out);
  }

  createRun(run: GraphRun): Promise<GraphRun> {
    return this.exclusive(async () => {
      const rec = checkRun(run);
      const existing = this.runs.get(rec.id);
      if (existing) return clone(existing);
      this.incidentOr404(rec.incident_id);
      await this.write([{ kind: "run", data: rec }]);
      return clone(rec);
    });
  }

  async getRun(id: string): Promise<GraphRun | null> {
    const r = this.runs.get(id);
    return r ? clone(r) : null;
  }

  updateRun(id: string, fromStatus: RunStatus[], patch: Partial<Omit<GraphRun, "id" | "graph" | "incident_id">>): Promise<GraphRun | null> {
    return this.exclusive(async () => {
      const r = this.runs.get(id);
      if (!r || !fromStatus.includes(r.status)) return null;
      const next = patchRun(r, patch);
      await this.write([{ kind: "run", data: next }]);
      return clone(next);
    });
  }

  async listRuns(q: { status?: RunStatus[]; incident_id?: string; updated_before?: string; limit?: number }): Promise<GraphRun[]> {
    const ids = this.indexes.runIds(q);
    const from = ids ? [...ids].flatMap((id) => this.runs.get(id) ?? []) : [...this.runs.values()];
    const out = from.filter((r) => runMatches(r, q)).sort(byOldestUpdate);
    return clone(out.slice(0, clampLimit(q.limit, INCIDENT_BOUNDS.runs)));
  }

  async exportRows(): Promise<IncidentRow[]> {
    return clone([...this.rows()]);
  }

  /** Upsert by key, newer versions winning; events are only added; rows of unknown incidents are dropped. */
  importRows(rows: IncidentRow[]): Promise<void> {
    return this.exclusive(async () => {
      await this.write(importedRows(rows, {
        incident: (id) => this.incidents.get(id),
        slotHolder: (key) => {
          const id = this.slots.get(key);
          return id === undefined ? undefined : this.incidents.get(id);
        },
        incidentIds: () => this.incidents.keys(),
        hasEvent: (id) => this.eventsById.has(id),
        hasEventKey: (key) => this.eventKeys.has(key),
        stored: (row) => this.stored(row),
      }));
    });
  }

  /** The stored version of an artifact, signature or run row. */
  private stored(row: IncidentRow): IncidentRow | undefined {
    const data = row.kind === "artifact" ? this.artifactsByKey.get(artifactKey(row.data))
      : row.kind === "signature" ? this.signatures.get(row.data.signature)
      : row.kind === "run" ? this.runs.get(row.data.id) : undefined;
    return data === undefined ? undefined : ({ kind: row.kind, data } as IncidentRow);
  }

  protected reset(): void {
    for (const m of [this.incidents, this.eventsById, this.eventKeys, this.artifactsByKey, this.signatures, this.runs, this.slots]) m.clear();
    this.indexes.clear();
  }

  /** Every record as replay rows: incidents first, so an importer meets parents before children. */
  protected *rows(): Iterable<IncidentRow> {
    for (const data of this.incidents.values()) yield { kind: "incident", data };
    for (const data of this.eventsById.values()) yield { kind: "event", data };
    for (const data of this.artifactsByKey.values()) yield { kind: "artifact", data };
    for (const data of this.signatures.values()) yield { kind: "signature", data };
    for (const data of this.runs.values()) yield { kind: "run", data };
  }
}
