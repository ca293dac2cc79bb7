/**
 * The incident store: incidents, their timelines, artifacts, per-signature state (the alert →
 * incident bridge's memory) and graph runs (triage reports, postmortem drafts).
 *
 * The bridge's one write, `absorbAlerts`, is planned by a pure function (absorb-plan.ts) that
 * every backend runs over the state it loaded, so memory, JSONL and Postgres decide identically;
 * the backend's job is to make load → plan → write atomic per signature (Postgres: row locks on
 * the signature rows plus a unique index on the open incident per signature; memory/JSONL: a
 * synchronous plan inside one process).
 */
import type { OpsEnv } from "../config/env.js";
import type { Severity } from "../subjects/index.js";
import type { BaseStore, Replayable } from "../util/store-port.js";

export const INCIDENT_STATUSES = ["open", "mitigating", "closed"] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export interface IncidentRecord {
  /** `inc_YYYYMMDD_HHMM_<hex>` */
  id: string;
  service: string;
  env: OpsEnv;
  severity: Severity;
  title: string;
  status: IncidentStatus;
  /** The bridge signature that opened it; absent for incidents created by hand without one. */
  signature?: string;
  /**
   * Set (= signature) while this incident is the one the signature's alerts go to; cleared when it
   * is closed or superseded. Unique among incidents: the store-level guard against two open
   * incidents for one signature.
   */
  signature_key?: string;
  started_at: string;
  created_at: string;
  updated_at: string;
  closed_at?: string;
  resolution?: string;
  /** Agent or component that created it, e.g. `sofiia`, `triage@node1`. */
  created_by: string;
  /** Alerts absorbed by the bridge (each alert_ref once). */
  alert_count: number;
  last_alert_at?: string;
  reopened_count: number;
  /**
   * Set while someone has acknowledged it (they are on it: no re-notifications); cleared by an
   * unacknowledge and when the incident reopens. A close keeps it, as a record of who had it.
   */
  acknowledged_at?: string;
  acknowledged_by?: string;
  /** Free-form labels: kind, source, first alert_ref, … */
  labels: Record<string, string | number | boolean>;
}

/** Timeline event types; anything else an agent appends is stored as `note`. */
export const EVENT_KINDS = [
  "created", "alert", "note", "followup", "status_change", "escalated", "reopened",
  "superseded", "artifact", "triage", "postmortem", "acknowledged", "unacknowledged",
] as const;
export type IncidentEventKind = (typeof EVENT_KINDS)[number];

export interface IncidentEvent {
  id: string;
  incident_id: string;
  ts: string;
  type: IncidentEventKind;
  message: string;
  author: string;
  meta: Record<string, unknown>;
  /**
   * Idempotency key (e.g. `alert:<alert_ref>`): unique over all events; appending an event whose
   * key exists returns the stored one with `replayed: true` and changes nothing.
   */
  dedupe_key?: string;
}

export interface NewIncidentEvent {
  type: IncidentEventKind;
  message: string;
  author: string;
  meta?: Record<string, unknown>;
  dedupe_key?: string;
  /** Default: now. */
  ts?: string;
}

/** Follow-up fields, kept in `meta` of a `followup` event; a later event with the same followup_id updates it. */
export interface FollowupMeta {
  followup_id: string;
  title: string;
  owner: string;
  /** YYYY-MM-DD or ISO timestamp. */
  due_date: string;
  status: "open" | "done" | "cancelled";
}

export const ARTIFACT_FORMATS = ["json", "md", "txt"] as const;
export type ArtifactFormat = (typeof ARTIFACT_FORMATS)[number];
export const MAX_ARTIFACT_BYTES = 2 * 1024 * 1024;

export interface ArtifactRecord {
  incident_id: string;
  /** File name under `<artifacts dir>/<incident_id>/`, e.g. `triage_report.md`; unique per incident. */
  name: string;
  format: ArtifactFormat;
  /** Path relative to the artifacts dir: `<incident_id>/<name>`. */
  path: string;
  bytes: number;
  sha256: string;
  created_at: string;
  created_by: string;
  /** The graph run that produced it, if any. */
  run_id?: string;
}

export const GRAPHS = ["incident_triage", "postmortem_draft"] as const;
export type GraphName = (typeof GRAPHS)[number];
export const RUN_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface GraphRun {
  /** `run_<hex>` */
  id: string;
  graph: GraphName;
  incident_id: string;
  status: RunStatus;
  requested_by: string;
  /** `auto` (the bridge, outside cooldown) or `manual` (graphs_tool.run). */
  trigger: "auto" | "manual";
  created_at: string;
  updated_at: string;
  started_at?: string;
  finished_at?: string;
  attempts: number;
  error?: string;
  /** Artifact names written by the run. */
  artifacts: string[];
}

export interface SignatureState {
  signature: string;
  /** The incident the signature's alerts currently go to (open or mitigating), if any. */
  open_incident_id?: string;
  /** The newest incident of the signature, open or closed (the reopen candidate). */
  last_incident_id?: string;
  last_alert_at?: string;
  last_triage_at?: string;
  updated_at: string;
}

/** The alert fields the bridge needs (a projection of AlertRecord). */
export interface BridgeAlert {
  alert_ref: string;
  fingerprint: string;
  service: string;
  env: OpsEnv;
  kind: string;
  severity: Severity;
  title: string;
  source: string;
  occurrences: number;
  starts_at: string;
  last_seen_at: string;
}

export interface AbsorbInput {
  signature: string;
  alert: BridgeAlert;
  /** Makes the absorb idempotent: `alert:<alert_ref>`; a replay returns the first result. */
  dedupe_key: string;
}

/** Escalation thresholds: the severity one step up is reached when its threshold is met. */
export interface EscalationPolicy {
  /** e.g. `{ P3: 5, P2: 10, P1: 25 }`: from P2, 10 absorbed alerts → P1. Absent = no step. */
  occurrences: Partial<Record<Severity, number>>;
  /** Minutes open: `{ P1: 1440 }` → an incident open for a day goes from P1 to P0. */
  open_minutes: Partial<Record<Severity, number>>;
}

export interface BridgePolicy {
  dedupe_window_minutes: number;
  reopen_window_minutes: number;
  triage_cooldown_minutes: number;
  severity_cap: Severity;
  escalation: EscalationPolicy;
  /** Written as `created_by`/`author` on what the bridge writes, e.g. `triage@node1`. */
  actor: string;
}

export type AbsorbAction = "created" | "appended" | "reopened";

export interface AbsorbResult {
  incident_id: string;
  action: AbsorbAction;
  /** The `alert` (or cooldown `note`) event recording this alert on the timeline. */
  event_id: string;
  /** Set when this alert was outside the signature's triage cooldown: the queued triage run. */
  triage_run_id?: string;
  /** Set when the absorb raised the severity. */
  escalated?: { from: Severity; to: Severity; reason: string };
  /** The open incident this one replaced because it was quiet beyond the dedupe window. */
  superseded?: string;
  /** True when the dedupe key was absorbed before: nothing changed, this is the first result. */
  replayed: boolean;
}

export interface IncidentQuery {
  status?: IncidentStatus | IncidentStatus[];
  service?: string;
  env?: string;
  severity?: Severity | Severity[];
  signature?: string;
  /** started_at ≥ since / < until (ISO). */
  since?: string;
  until?: string;
  /** Default 50, at most 1000. Newest started_at first. */
  limit?: number;
}

export interface EventQuery {
  incident_ids?: string[];
  type?: IncidentEventKind;
  since?: string;
  /** Default 1000, at most 100,000. Oldest first. */
  limit?: number;
}

export interface NewIncident {
  service: string;
  env: OpsEnv;
  severity: Severity;
  title: string;
  started_at?: string;
  created_by: string;
  labels?: Record<string, string | number | boolean>;
  /** Optional; a manual incident with a signature takes the signature's open slot if free. */
  signature?: string;
}

export interface GuardedClose {
  by: string;
  resolution: string;
  /** Added to the `status_change` event's meta (e.g. `auto_resolved: true`). */
  meta?: Record<string, unknown>;
}

/** What an acknowledge or unacknowledge did: `changed: false` (no event) when it was already so. */
export interface AckResult {
  incident: IncidentRecord;
  changed: boolean;
  /** The `acknowledged` / `unacknowledged` timeline event; absent when nothing changed. */
  event?: IncidentEvent;
}

export interface AckOptions {
  /** Kept on the event (message and meta.note). */
  note?: string;
  /** Added to the event's meta (e.g. `via: "pagerduty"`). */
  meta?: Record<string, unknown>;
}

export type IncidentRow =
  | { kind: "incident"; data: IncidentRecord }
  | { kind: "event"; data: IncidentEvent }
  | { kind: "artifact"; data: ArtifactRecord }
  | { kind: "signature"; data: SignatureState }
  | { kind: "run"; data: GraphRun };

export interface IncidentStore extends BaseStore, Replayable<IncidentRow> {
  create(input: NewIncident, now: Date): Promise<IncidentRecord>;
  get(id: string): Promise<IncidentRecord | null>;
  list(q: IncidentQuery): Promise<IncidentRecord[]>;
  /** Appends to an existing incident (not_found otherwise); idempotent by dedupe_key. */
  appendEvent(incidentId: string, ev: NewIncidentEvent, now: Date): Promise<{ event: IncidentEvent; replayed: boolean }>;
  events(q: EventQuery): Promise<IncidentEvent[]>;
  /** Status change with a `status_change` event; closing clears the signature's open slot. */
  setStatus(id: string, status: IncidentStatus, opts: { by: string; resolution?: string }, now: Date): Promise<IncidentRecord>;
  /**
   * Compare-and-set close: closes the incident (with its `status_change` event, `meta` added to the
   * event's) only if it is still as `read` — not closed, same status, updated_at, alert_count and
   * reopened_count. Null when it changed meanwhile or is gone: of two sweeps one closes, and an
   * alert absorbed after the read keeps the incident open.
   */
  closeIfUnchanged(read: IncidentRecord, opts: GuardedClose, now: Date): Promise<{ incident: IncidentRecord; event: IncidentEvent } | null>;
  /** The alert refs each incident absorbed (its `alert` and cooldown `note` events' meta.alert_ref), each once. */
  alertRefs(incidentIds: string[]): Promise<Map<string, string[]>>;
  /**
   * Marks the incident acknowledged by `by` at `now`, with an `acknowledged` event. Acknowledging an
   * acknowledged incident changes nothing (`changed: false`, the first ack kept); a closed incident
   * is refused (`invalid_request`); an unknown one is `not_found`.
   */
  acknowledge(id: string, by: string, now: Date, opts?: AckOptions): Promise<AckResult>;
  /** Clears the acknowledgement, with an `unacknowledged` event; same rules as `acknowledge`. */
  unacknowledge(id: string, by: string, now: Date, opts?: AckOptions): Promise<AckResult>;
  /** Raises severity if still `from` (compare-and-set), with an `escalated` event; null when it no longer applies. */
  escalate(id: string, from: Severity, to: Severity, reason: string, by: string, now: Date): Promise<IncidentRecord | null>;
  /** The bridge: one atomic step for a batch of alerts; results in input order. */
  absorbAlerts(inputs: AbsorbInput[], policy: BridgePolicy, now: Date): Promise<AbsorbResult[]>;
  signatureState(signature: string): Promise<SignatureState | null>;
  /** Records artifact metadata (the file is written first by the caller); replaces the same name. */
  putArtifact(a: ArtifactRecord): Promise<ArtifactRecord>;
  artifacts(incidentId: string): Promise<ArtifactRecord[]>;
  createRun(run: GraphRun): Promise<GraphRun>;
  getRun(id: string): Promise<GraphRun | null>;
  /** Applies `patch` if the run's status is one of `fromStatus`; returns the new run, else null. */
  updateRun(id: string, fromStatus: RunStatus[], patch: Partial<Omit<GraphRun, "id" | "graph" | "incident_id">>): Promise<GraphRun | null>;
  /** Runs in `status` last updated before `before` (the repair sweep's input). */
  listRuns(q: { status?: RunStatus[]; incident_id?: string; updated_before?: string; limit?: number }): Promise<GraphRun[]>;
}

/** P0 is the most severe. */
export const SEVERITY_RANK: Record<Severity, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };
