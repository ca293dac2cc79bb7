/**
 * The rules of `IncidentStore.absorbAlerts` (the alert → incident bridge), as one pure function
 * every backend runs over the state it loaded: the backend answers lookups (signature states, the
 * incidents they name, events by dedupe key) and writes what the plan returns. Inputs are taken in
 * order; each sees the effects of the ones before it.
 *
 * Only the alert's own event (type `alert`, or `note` inside the triage cooldown) carries
 * `meta.alert_ref` and the dedupe key, so each alert is on exactly one timeline once; the events
 * it causes (created, reopened, superseded, escalated) name it as `meta.caused_by_alert`.
 */
import { newId, newIncidentId } from "../ids.js";
import { newEventId } from "./event-id.js";
import type { Severity } from "../subjects/index.js";
import { normaliseTime } from "../util/iso-time.js";
import {
  SEVERITY_RANK,
  type AbsorbAction,
  type AbsorbInput,
  type AbsorbResult,
  type BridgePolicy,
  type GraphRun,
  type IncidentEvent,
  type IncidentEventKind,
  type IncidentRecord,
  type SignatureState,
} from "./store.js";

export interface AbsorbView {
  signature(signature: string): SignatureState | undefined;
  incident(id: string): IncidentRecord | undefined;
  /** The stored event holding a dedupe key, if any. */
  eventByKey(key: string): IncidentEvent | undefined;
  /**
   * Whether an incident id is in use. Ids carry 24 random bits per minute, so a busy minute
   * (thousands of new signatures) draws the same id twice, and writing it would replace the other
   * incident; a taken id is drawn again.
   */
  idTaken?(id: string): boolean;
}

export interface AbsorbPlan {
  results: AbsorbResult[];
  /** Final state of every incident the batch created or changed. */
  incidents: IncidentRecord[];
  /** New events, in the order they happened. */
  events: IncidentEvent[];
  /** Final state of every signature the batch touched. */
  signatures: SignatureState[];
  /** Triage runs queued by the batch. */
  runs: GraphRun[];
}

const BY_RANK: Severity[] = ["P0", "P1", "P2", "P3"];
const ACTIONS: readonly AbsorbAction[] = ["created", "appended", "reopened"];
const MINUTE = 60_000;

/** `severity` no more severe than `cap`: a P0 alert under a P1 cap opens a P1; P3 stays P3. */
export function capSeverity(severity: Severity, cap: Severity): Severity {
  return SEVERITY_RANK[severity] < SEVERITY_RANK[cap] ? cap : severity;
}

/**
 * Where escalation takes an incident now: from its severity, one step up while that step's
 * threshold (alert count or minutes open) is met. Null when nothing applies; never lowers, never
 * goes above P0, and a closed incident is left alone.
 */
export function escalationTarget(
  incident: Pick<IncidentRecord, "severity" | "alert_count" | "created_at" | "status">,
  policy: Pick<BridgePolicy, "escalation">,
  now: Date,
): { to: Severity; reason: string } | null {
  if (incident.status === "closed") return null;
  const openMinutes = (now.getTime() - Date.parse(incident.created_at)) / MINUTE;
  let sev = incident.severity;
  const reasons: string[] = [];
  while (SEVERITY_RANK[sev] > 0) {
    const occ = policy.escalation.occurrences[sev];
    const mins = policy.escalation.open_minutes[sev];
    if (occ !== undefined && occ <= incident.alert_count) reasons.push(`${incident.alert_count} alerts ≥ ${occ} at ${sev}`);
    else if (mins !== undefined && mins <= openMinutes) reasons.push(`open ${Math.floor(openMinutes)} min ≥ ${mins} at ${sev}`);
    else break;
    sev = BY_RANK[SEVERITY_RANK[sev] - 1]!;
  }
  return sev === incident.severity ? null : { to: sev, reason: reasons.join("; ") };
}

/** The first result of an absorbed key, rebuilt from its event's meta. */
export function replayedResult(ev: IncidentEvent): AbsorbResult {
  const m = ev.meta;
  const action = ACTIONS.includes(m.action as AbsorbAction) ? (m.action as AbsorbAction) : "appended";
  const r: AbsorbResult = { incident_id: ev.incident_id, action, event_id: ev.id, replayed: true };
  if (typeof m.triage_run_id === "string") r.triage_run_id = m.triage_run_id;
  if (m.escalated && typeof m.escalated === "object") r.escalated = { ...(m.escalated as NonNullable<AbsorbResult["escalated"]>) };
  if (typeof m.superseded === "string") r.superseded = m.superseded;
  return r;
}

export function planAbsorb(inputs: AbsorbInput[], policy: BridgePolicy, now: Date, view: AbsorbView): AbsorbPlan {
  const at = now.toISOString();
  const nowMs = now.getTime();
  const within = (since: string | undefined, minutes: number) => since !== undefined && nowMs - Date.parse(since) <= minutes * MINUTE;
  const incidents = new Map<string, IncidentRecord>();
  const touched = new Set<string>();
  const states = new Map<string, SignatureState>();
  const byKey = new Map<string, IncidentEvent>();
  const events: IncidentEvent[] = [];
  const runs: GraphRun[] = [];
  const results: AbsorbResult[] = [];

  // Working copies: the view's objects are never changed.
  const incident = (id: string | undefined): IncidentRecord | undefined => {
    if (id === undefined) return undefined;
    let rec = incidents.get(id);
    if (!rec) {
      const stored = view.incident(id);
      if (!stored) return undefined;
      rec = { ...stored, labels: { ...stored.labels } }; // labels hold primitives only
      incidents.set(id, rec);
    }
    return rec;
  };
  const state = (sig: string): SignatureState => {
    let s = states.get(sig);
    if (!s) {
      const stored = view.signature(sig);
      s = stored ? { ...stored } : { signature: sig, updated_at: at };
      states.set(sig, s);
    }
    return s;
  };
  const event = (incidentId: string, type: IncidentEventKind, message: string, meta: Record<string, unknown>): IncidentEvent => {
    const ev: IncidentEvent = { id: newEventId(), incident_id: incidentId, ts: at, type, message, author: policy.actor, meta };
    events.push(ev);
    return ev;
  };

  for (const input of inputs) {
    const key = input.dedupe_key;
    const first = byKey.get(key) ?? view.eventByKey(key);
    if (first) {
      results.push(replayedResult(first));
      continue;
    }
    const sig = input.signature;
    const a = input.alert;
    const s = state(sig);
    const held = incident(s.open_incident_id);
    const open = held && held.status !== "closed" && held.signature_key === sig ? held : undefined;
    let inc: IncidentRecord;
    let action: AbsorbAction;
    let superseded: string | undefined;
    if (open && within(open.last_alert_at ?? open.created_at, policy.dedupe_window_minutes)) {
      inc = open;
      action = "appended";
    } else {
      const last = open ? undefined : incident(s.last_incident_id);
      if (last && last.status === "closed" && within(last.closed_at, policy.reopen_window_minutes)) {
        event(last.id, "reopened", `reopened by alert ${a.alert_ref} (closed ${last.closed_at})`, {
          caused_by_alert: a.alert_ref, closed_at: last.closed_at, resolution: last.resolution ?? null,
        });
        last.status = "open";
        last.reopened_count += 1;
        delete last.closed_at;
        delete last.resolution;
        // A reopened incident asks for attention again: the old acknowledgement no longer holds.
        delete last.acknowledged_at;
        delete last.acknowledged_by;
        last.signature_key = sig;
        inc = last;
        action = "reopened";
      } else {
        let id = newIncidentId(now);
        while (incidents.has(id) || view.idTaken?.(id)) id = newIncidentId(now);
        if (open) {
          // Quiet beyond the dedupe window: a new incident takes the signature; the old one stays
          // open for a human to close.
          delete open.signature_key;
          open.updated_at = at;
          touched.add(open.id);
          event(open.id, "superseded", `superseded by ${id}: signature quiet for more than ${policy.dedupe_window_minutes} min`, {
            superseded_by: id, signature: sig, caused_by_alert: a.alert_ref,
          });
          superseded = open.id;
        }
        inc = createFrom(input, id, policy, at);
        incidents.set(id, inc);
        event(id, "created", `opened from alert ${a.alert_ref}: ${a.title}`, {
          caused_by_alert: a.alert_ref, signature: sig, severity: inc.severity, alert_severity: a.severity,
          ...(superseded ? { supersedes: superseded } : {}),
        });
        action = "created";
      }
    }
    touched.add(inc.id);
    inc.alert_count += 1;
    inc.last_alert_at = at;
    inc.updated_at = at;

    const meta: Record<string, unknown> = {
      alert_ref: a.alert_ref, action, fingerprint: a.fingerprint, severity: a.severity, occurrences: a.occurrences,
    };
    if (superseded) meta.superseded = superseded;
    const cooled = s.last_triage_at !== undefined && nowMs - Date.parse(s.last_triage_at) < policy.triage_cooldown_minutes * MINUTE;
    let runId: string | undefined;
    if (cooled) meta.cooldown = true;
    else {
      const run: GraphRun = {
        id: newId("run"), graph: "incident_triage", incident_id: inc.id, status: "queued", requested_by: policy.actor,
        trigger: "auto", created_at: at, updated_at: at, attempts: 0, artifacts: [],
      };
      runs.push(run);
      runId = run.id;
      meta.triage_run_id = run.id;
      s.last_triage_at = at;
    }
    const ev = cooled
      ? event(inc.id, "note", `alert ${a.alert_ref} inside the triage cooldown: ${a.title}`, meta)
      : event(inc.id, "alert", `alert ${a.alert_ref} (${a.severity}, ${a.occurrences}×): ${a.title}`, meta);
    ev.dedupe_key = key;
    byKey.set(key, ev);

    const result: AbsorbResult = { incident_id: inc.id, action, event_id: ev.id, replayed: false };
    if (runId !== undefined) result.triage_run_id = runId;
    if (superseded !== undefined) result.superseded = superseded;
    const esc = escalationTarget(inc, policy, now);
    if (esc) {
      const escalated = { from: inc.severity, to: esc.to, reason: esc.reason };
      inc.severity = esc.to;
      event(inc.id, "escalated", `severity ${escalated.from} → ${escalated.to}: ${esc.reason}`, { ...escalated, caused_by_alert: a.alert_ref });
      meta.escalated = { ...escalated };
      result.escalated = escalated;
    }
    results.push(result);

    s.open_incident_id = inc.id;
    s.last_incident_id = inc.id;
    s.last_alert_at = at;
    s.updated_at = at;
  }

  return {
    results,
    incidents: [...touched].map((id) => incidents.get(id)!),
    events,
    // Only replays never reach state(): every state here was changed.
    signatures: [...states.values()],
    runs,
  };
}

function createFrom(input: AbsorbInput, id: string, policy: BridgePolicy, at: string): IncidentRecord {
  const a = input.alert;
  return {
    id,
    service: a.service,
    env: a.env,
    severity: capSeverity(a.severity, policy.severity_cap),
    title: a.title,
    status: "open",
    signature: input.signature,
    signature_key: input.signature,
    started_at: normaliseTime(a.starts_at),
    created_at: at,
    updated_at: at,
    created_by: policy.actor,
    alert_count: 0,
    reopened_count: 0,
    labels: { kind: a.kind, source: a.source, fingerprint: a.fingerprint, first_alert_ref: a.alert_ref },
  };
}
