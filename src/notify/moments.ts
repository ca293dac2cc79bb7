/**
 * Incident events → incident moments: which events are notified and the moment's stable id. The id
 * comes from the event's Nats-Msg-Id (what the publisher keyed the change by), so an event
 * republished after a lost ack, or seen by two planners, names the same moment, hence the same
 * notification key. A close is one `resolved` moment whether the auto-resolve sweep or a person
 * closed it: both key their event by the close time.
 */
import { createHash } from "node:crypto";
import { SEVERITIES, type Severity } from "../subjects/index.js";
import type { IncidentMoment, MomentKind } from "./types.js";

/** An incident event as the planner reads it off OPS_EVENTS. */
export interface IncidentEventIn {
  type: string;
  ts: string;
  data: Record<string, unknown>;
  /** The event's Nats-Msg-Id (absent when published without one: the envelope id stands in). */
  msg_id?: string;
  envelope_id: string;
  stream_seq: number;
}

const KIND_OF: Readonly<Record<string, MomentKind>> = {
  "incident.created": "opened",
  "incident.reopened": "reopened",
  "incident.escalated": "escalated",
  "incident.acknowledged": "acknowledged",
  "incident.resolved": "resolved",
  "incident.closed": "resolved",
};

const shortHash = (text: string) => createHash("sha256").update(text).digest("base64url").replace(/[^A-Za-z0-9]/g, "").slice(0, 12);
const isSeverity = (v: unknown): v is Severity => typeof v === "string" && (SEVERITIES as readonly string[]).includes(v);
const str = (v: unknown) => (typeof v === "string" && v.length ? v : undefined);

/** The moment an incident event is, or undefined for events nobody is told about (notes, updates, unacks). */
export function momentOf(e: IncidentEventIn): IncidentMoment | undefined {
  const kind = KIND_OF[e.type];
  const incidentId = str(e.data.incident_id);
  if (!kind || !incidentId || !/^[A-Za-z0-9_-]+$/.test(incidentId)) return undefined;
  const name = e.msg_id ?? e.envelope_id;
  let momentId: string;
  if (kind === "opened") momentId = "opened";
  else if (kind === "escalated") {
    if (!isSeverity(e.data.to)) return undefined;
    momentId = `escalated-${e.data.to}`;
  } else if (kind === "resolved") {
    // `…@<closed_at>` for both incident.closed and incident.resolved.
    const at = name.includes("@") ? name.slice(name.lastIndexOf("@") + 1) : name;
    momentId = `resolved-${shortHash(at)}`;
  } else momentId = `${kind}-${shortHash(name)}`;
  const by = str(e.data.by);
  return {
    kind,
    incident_id: incidentId,
    moment_id: momentId,
    at: e.ts,
    seq: e.stream_seq,
    ...(by ? { by } : {}),
    ...(kind === "escalated" && isSeverity(e.data.from) ? { from_severity: e.data.from } : {}),
    ...(kind === "escalated" && isSeverity(e.data.to) ? { to_severity: e.data.to } : {}),
  };
}

/** The `n`th re-notification of an open, unacknowledged incident. */
export function repeatMoment(incidentId: string, n: number, at: Date): IncidentMoment {
  return { kind: "repeat", incident_id: incidentId, moment_id: `repeat-${n}`, at: at.toISOString(), seq: 0 };
}

/** `<incident>.<moment>.<receiver>`: the idempotency key (Nats-Msg-Id, sent-log key, receiver dedupe key). */
export const notificationKey = (m: Pick<IncidentMoment, "incident_id" | "moment_id">, receiver: string): string => `${m.incident_id}.${m.moment_id}.${receiver}`;
