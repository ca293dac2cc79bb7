/**
 * The incident store's other writes as pure planners (create, status change, escalation, a
 * timeline event, importing incidents), so every backend applies the same rules to what it loaded
 * and only has to persist the result.
 */
import { OPS_ENVS } from "../config/env.js";
import { invalid } from "../errors.js";
import { newIncidentId } from "../ids.js";
import { newEventId } from "./event-id.js";
import type { Severity } from "../subjects/index.js";
import { normaliseTime } from "../util/iso-time.js";
import {
  type AckOptions,
  EVENT_KINDS,
  INCIDENT_STATUSES,
  SEVERITY_RANK,
  type GuardedClose,
  type IncidentEvent,
  type IncidentEventKind,
  type IncidentRecord,
  type IncidentStatus,
  type NewIncident,
  type NewIncidentEvent,
  type SignatureState,
} from "./store.js";

/** What a planner wants written: an incident, its event, and maybe the signature's new state. */
export interface IncidentWrite {
  incident: IncidentRecord;
  event: IncidentEvent;
  state?: SignatureState;
}

const SEVERITIES = Object.keys(SEVERITY_RANK) as Severity[];

function need(value: unknown, what: string): void {
  if (typeof value !== "string" || value.trim() === "") throw invalid(`${what} is required`);
}

/** A new event; an unknown type is stored as `note` (the original kept in meta.type). */
export function newEvent(incidentId: string, ev: NewIncidentEvent, now: Date): IncidentEvent {
  need(ev.message, "event message");
  need(ev.author, "event author");
  const known = (EVENT_KINDS as readonly string[]).includes(ev.type);
  const meta = structuredClone(ev.meta ?? {});
  if (!known) meta.type = ev.type;
  const out: IncidentEvent = {
    id: newEventId(),
    incident_id: incidentId,
    ts: ev.ts !== undefined ? normaliseTime(ev.ts) : now.toISOString(),
    type: known ? ev.type : "note",
    message: ev.message,
    author: ev.author,
    meta,
  };
  if (ev.dedupe_key !== undefined) out.dedupe_key = ev.dedupe_key;
  return out;
}

function drawId(now: Date, taken?: (id: string) => boolean): string {
  let id = newIncidentId(now);
  while (taken?.(id)) id = newIncidentId(now);
  return id;
}

function event(inc: IncidentRecord, type: IncidentEventKind, message: string, author: string, meta: Record<string, unknown>, at: string): IncidentEvent {
  return { id: newEventId(), incident_id: inc.id, ts: at, type, message, author, meta };
}

/**
 * A hand-made incident. With a signature it takes the signature's open slot when `slotFree`
 * (no other incident holds it), and becomes the signature's open and last incident. Its id is
 * drawn again while `idTaken` says so: three random bytes per minute meet again within a few
 * thousand incidents, and a store writes incidents by id, so a clash would overwrite the other.
 */
export function planCreate(input: NewIncident, state: SignatureState | undefined, slotFree: boolean, now: Date, idTaken?: (id: string) => boolean): IncidentWrite {
  need(input.service, "service");
  need(input.title, "title");
  need(input.created_by, "created_by");
  if (!(OPS_ENVS as readonly string[]).includes(input.env)) throw invalid(`env must be one of ${OPS_ENVS.join(", ")}`);
  if (!(SEVERITIES as readonly string[]).includes(input.severity)) throw invalid(`severity must be one of ${SEVERITIES.join(", ")}`);
  const at = now.toISOString();
  const rec: IncidentRecord = {
    id: drawId(now, idTaken),
    service: input.service,
    env: input.env,
    severity: input.severity,
    title: input.title,
    status: "open",
    started_at: input.started_at !== undefined ? normaliseTime(input.started_at) : at,
    created_at: at,
    updated_at: at,
    created_by: input.created_by,
    alert_count: 0,
    reopened_count: 0,
    labels: structuredClone(input.labels ?? {}),
  };
  const out: IncidentWrite = {
    incident: rec,
    event: event(rec, "created", `opened by ${input.created_by}: ${input.title}`, input.created_by, { severity: rec.severity }, at),
  };
  if (input.signature !== undefined) {
    need(input.signature, "signature");
    rec.signature = input.signature;
    out.event.meta.signature = input.signature;
    if (slotFree) {
      rec.signature_key = input.signature;
      out.state = { ...(state ?? { signature: input.signature }), open_incident_id: rec.id, last_incident_id: rec.id, updated_at: at };
    }
  }
  return out;
}

/**
 * A status change with its `status_change` event; null when the status is already that. Closing
 * clears the signature slot (and the signature's open incident if it is this one); leaving
 * `closed` by hand takes the slot back when it is free.
 */
export function planStatus(
  inc: IncidentRecord,
  status: IncidentStatus,
  opts: { by: string; resolution?: string },
  state: SignatureState | undefined,
  slotFree: boolean,
  now: Date,
): IncidentWrite | null {
  if (!(INCIDENT_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`status must be one of ${INCIDENT_STATUSES.join(", ")}`);
  }
  need(opts.by, "by");
  if (inc.status === status) return null;
  const at = now.toISOString();
  const next: IncidentRecord = { ...inc, status, updated_at: at };
  const meta: Record<string, unknown> = { from: inc.status, to: status };
  let nextState: SignatureState | undefined;
  if (status === "closed") {
    next.closed_at = at;
    if (opts.resolution !== undefined) next.resolution = opts.resolution;
    delete next.signature_key;
    if (state && state.open_incident_id === inc.id) {
      nextState = { ...state, updated_at: at };
      delete nextState.open_incident_id;
    }
  } else if (inc.status === "closed") {
    // Leaving closed is a reopen: whoever had acknowledged it is no longer taken to be on it.
    delete next.closed_at;
    delete next.resolution;
    delete next.acknowledged_at;
    delete next.acknowledged_by;
    if (inc.signature !== undefined && slotFree) {
      next.signature_key = inc.signature;
      nextState = { ...(state ?? { signature: inc.signature }), open_incident_id: inc.id, updated_at: at };
      nextState.last_incident_id ??= inc.id;
    }
  }
  if (opts.resolution !== undefined) meta.resolution = opts.resolution;
  const message = `status ${inc.status} → ${status}${opts.resolution !== undefined ? `: ${opts.resolution}` : ""}`;
  const out: IncidentWrite = { incident: next, event: event(next, "status_change", message, opts.by, meta, at) };
  if (nextState) out.state = nextState;
  return out;
}

/** Whether `cur` is still the incident a sweep read: open or mitigating, and nothing written since. */
export function unchangedSince(cur: IncidentRecord, read: IncidentRecord): boolean {
  return cur.status !== "closed" && cur.status === read.status && cur.updated_at === read.updated_at
    && cur.alert_count === read.alert_count && cur.reopened_count === read.reopened_count;
}

/** Compare-and-set close (see IncidentStore.closeIfUnchanged): planStatus to closed, or null. */
export function planCloseIfUnchanged(cur: IncidentRecord, read: IncidentRecord, opts: GuardedClose, state: SignatureState | undefined, now: Date): IncidentWrite | null {
  if (!unchangedSince(cur, read)) return null;
  const w = planStatus(cur, "closed", { by: opts.by, resolution: opts.resolution }, state, false, now);
  if (w && opts.meta) w.event.meta = { ...opts.meta, ...w.event.meta };
  return w;
}

/** Compare-and-set escalation: null unless the incident is not closed and still at `from`. */
export function planEscalate(inc: IncidentRecord, from: Severity, to: Severity, reason: string, by: string, now: Date): IncidentWrite | null {
  for (const s of [from, to]) {
    if (!(SEVERITIES as readonly string[]).includes(s)) throw invalid(`severity must be one of ${SEVERITIES.join(", ")}`);
  }
  if (SEVERITY_RANK[to] >= SEVERITY_RANK[from]) throw invalid(`escalation must raise the severity (${from} → ${to})`);
  need(by, "by");
  if (inc.status === "closed" || inc.severity !== from) return null;
  const at = now.toISOString();
  const next: IncidentRecord = { ...inc, severity: to, updated_at: at };
  return { incident: next, event: event(next, "escalated", `severity ${from} → ${to}: ${reason}`, by, { from, to, reason }, at) };
}

/** The longest acknowledgement note kept on the timeline. */
export const MAX_ACK_NOTE_CHARS = 2000;

/**
 * An acknowledge (`ack: true`) or unacknowledge, with its event; null when the incident already is
 * so (the first ack is kept). A closed incident is refused: there is nothing left to be on.
 */
export function planAck(inc: IncidentRecord, ack: boolean, by: string, opts: AckOptions, now: Date): IncidentWrite | null {
  need(by, "by");
  const verb = ack ? "acknowledge" : "unacknowledge";
  if (inc.status === "closed") {
    throw invalid(`incident ${inc.id} is closed: only an open or mitigating incident can be ${verb}d`, { incident_id: inc.id, status: inc.status });
  }
  if ((inc.acknowledged_at !== undefined) === ack) return null;
  const note = opts.note?.trim() ? opts.note.trim().slice(0, MAX_ACK_NOTE_CHARS) : undefined;
  const at = now.toISOString();
  const next: IncidentRecord = { ...inc, updated_at: at };
  const meta: Record<string, unknown> = { ...structuredClone(opts.meta ?? {}) };
  if (ack) {
    next.acknowledged_at = at;
    next.acknowledged_by = by;
    meta.acknowledged_at = at;
  } else {
    delete next.acknowledged_at;
    delete next.acknowledged_by;
    meta.acknowledged_at = inc.acknowledged_at;
    meta.acknowledged_by = inc.acknowledged_by;
  }
  if (note !== undefined) meta.note = note;
  const message = `${ack ? "acknowledged" : "unacknowledged"} by ${by}${note !== undefined ? `: ${note}` : ""}`;
  return { incident: next, event: event(next, ack ? "acknowledged" : "unacknowledged", message, by, meta, at) };
}

const newerOrSame = (a: { updated_at: string }, b: { updated_at: string } | undefined) =>
  !b || Date.parse(a.updated_at) >= Date.parse(b.updated_at);

/**
 * Imported incidents to write: per id the newest version (an older one than stored is skipped),
 * and per signature slot one holder, the most recently updated, others losing their key (an
 * outage fallback may have opened a second incident for a signature). Idempotent.
 */
export function mergeIncidents(
  incoming: IncidentRecord[],
  stored: (id: string) => IncidentRecord | undefined,
  holder: (signatureKey: string) => IncidentRecord | undefined,
): IncidentRecord[] {
  const take = new Map<string, IncidentRecord>();
  for (const r of incoming) if (newerOrSame(r, take.get(r.id) ?? stored(r.id))) take.set(r.id, structuredClone(r));
  const out = new Map(take);
  const byKey = new Map<string, IncidentRecord[]>();
  for (const r of take.values()) {
    if (r.signature_key === undefined) continue;
    byKey.set(r.signature_key, [...(byKey.get(r.signature_key) ?? []), r]);
  }
  for (const [key, rivals] of byKey) {
    const h = holder(key);
    if (h && !take.has(h.id)) rivals.push(h);
    if (rivals.length < 2) continue;
    rivals.sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at)); // stable: incoming first on ties
    for (const loser of rivals.slice(1)) {
      const copy = take.get(loser.id) ?? structuredClone(loser);
      delete copy.signature_key;
      out.set(loser.id, copy);
    }
  }
  return [...out.values()];
}

/** Keep the later version of a state or run (import). */
export { newerOrSame };
