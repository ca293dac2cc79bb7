/**
 * The data of the triage report and the postmortem draft: what the JSON artifact holds and
 * reports-md.ts renders. Deterministic: no clock, no randomness, every list sorted with a full tie-break.
 */import { SEVERITIES, type Severity } from "../subjects/index.js";
import type { IncidentEvent } from "./store.js";
import { daysOverdue } from "./followups.js";
import { kindOf } from "./correlate.js";
import type { ReportInput } from "./report-input.js";
import { nextSteps, openQuestions } from "./report-rules.js";

/** Rows kept in the JSON of large lists (the timeline is never cut). */
const MAX_JSON_ALERTS = 1000;
/** Timeline messages are cut to this in both outputs, so a huge note cannot blow the 2 MB artifact limit alone. */
const MAX_MESSAGE_CHARS = 1000;

const minutesBetween = (a: string, b: string) => Math.round(((Date.parse(b) - Date.parse(a)) / 60_000) * 10) / 10;
const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export function suggestedOwner(input: ReportInput): { owner: string; source: "followup" | "label" | "default" } {
  const open = input.followups
    .filter((f) => f.status === "open" && f.owner)
    .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at) || a.followup_id.localeCompare(b.followup_id));
  if (open[0]) return { owner: open[0].owner, source: "followup" };
  const label = input.incident.labels.owner;
  if (typeof label === "string" && label) return { owner: label, source: "label" };
  return { owner: `${input.incident.service} on-call`, source: "default" };
}

/** Per alert ref: how many timeline events mention it (an alert absorbed, or a cooldown note). */
function mentions(events: IncidentEvent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) if (typeof e.meta.alert_ref === "string") m.set(e.meta.alert_ref, (m.get(e.meta.alert_ref) ?? 0) + 1);
  return m;
}

export function firstSeverity(input: ReportInput): Severity {
  for (const e of input.events) {
    const from = e.meta.from;
    if (e.type === "escalated" && typeof from === "string" && (SEVERITIES as readonly string[]).includes(from)) return from as Severity;
  }
  return input.incident.severity;
}

export function triageData(input: ReportInput) {
  const inc = input.incident;
  const byRef = mentions(input.events);
  const found = new Set(input.alerts.map((a) => a.alert_ref));
  const alerts = input.alerts.map((a) => ({
    alert_ref: a.alert_ref,
    fingerprint: a.fingerprint,
    title: a.title,
    kind: a.kind,
    severity: a.severity,
    source: a.source,
    status: a.status,
    occurrences: a.occurrences,
    timeline_events: byRef.get(a.alert_ref) ?? 0,
    starts_at: a.starts_at,
    last_seen_at: a.last_seen_at,
  }));
  const alertEvents = input.events.filter((e) => e.type === "alert");
  const firstAlert = [...input.alerts.map((a) => a.starts_at), ...alertEvents.map((e) => e.ts)].sort((a, b) => Date.parse(a) - Date.parse(b))[0];
  const lastSeen = [...input.alerts.map((a) => a.last_seen_at), ...(inc.last_alert_at ? [inc.last_alert_at] : [])].sort((a, b) => Date.parse(b) - Date.parse(a))[0];
  return {
    report: "incident_triage" as const,
    generated_at: input.now,
    incident: {
      id: inc.id, title: inc.title, service: inc.service, env: inc.env, severity: inc.severity, status: inc.status,
      signature: inc.signature ?? null, kind: kindOf(inc) ?? null,
    },
    what_fired: {
      alerts: alerts.slice(0, MAX_JSON_ALERTS),
      alerts_total: alerts.length,
      missing_alert_refs: input.alert_refs.filter((r) => !found.has(r)),
    },
    how_often: {
      alerts_absorbed: inc.alert_count,
      alert_events: alertEvents.length,
      /** Alerts recorded as notes because they came inside the triage cooldown. */
      cooldown_notes: input.events.filter((e) => e.type === "note" && e.meta.cooldown === true).length,
      occurrences: input.alerts.reduce((n, a) => n + a.occurrences, 0),
      notes: input.events.filter((e) => e.type === "note" && e.meta.cooldown !== true).length,
      escalations: input.events.filter((e) => e.type === "escalated").length,
      reopened: inc.reopened_count,
    },
    since_when: {
      started_at: inc.started_at,
      first_alert_at: firstAlert ?? null,
      last_alert_at: lastSeen ?? null,
      open_minutes: minutesBetween(inc.started_at, inc.closed_at ?? input.now),
    },
    related: input.related,
    recurrence: input.recurrence,
    suggested_owner: suggestedOwner(input),
    next_steps: nextSteps(input),
  };
}
export type TriageReport = ReturnType<typeof triageData>;

export function postmortemData(input: ReportInput) {
  const inc = input.incident;
  const end = inc.closed_at ?? input.now;
  const signals = new Map<string, { fingerprint: string; kind: string; title: string; alerts: number; occurrences: number; first_seen: string; last_seen: string }>();
  for (const a of input.alerts) {
    const s = signals.get(a.fingerprint);
    if (!s) {
      signals.set(a.fingerprint, { fingerprint: a.fingerprint, kind: a.kind, title: a.title, alerts: 1, occurrences: a.occurrences, first_seen: a.starts_at, last_seen: a.last_seen_at });
      continue;
    }
    s.alerts += 1;
    s.occurrences += a.occurrences;
    if (Date.parse(a.starts_at) < Date.parse(s.first_seen)) s.first_seen = a.starts_at;
    if (Date.parse(a.last_seen_at) > Date.parse(s.last_seen)) s.last_seen = a.last_seen_at;
  }
  const byKind = new Map<string, number>();
  for (const a of input.alerts) byKind.set(a.kind, (byKind.get(a.kind) ?? 0) + a.occurrences);
  const now = new Date(input.now);
  return {
    report: "postmortem_draft" as const,
    generated_at: input.now,
    summary: {
      id: inc.id, title: inc.title, service: inc.service, env: inc.env, status: inc.status,
      started_at: inc.started_at, closed_at: inc.closed_at ?? null, resolution: inc.resolution ?? null,
      signature: inc.signature ?? null, kind: kindOf(inc) ?? null,
    },
    impact: {
      severity: inc.severity,
      initial_severity: firstSeverity(input),
      duration_minutes: minutesBetween(inc.started_at, end),
      ongoing: inc.status !== "closed",
      alerts: input.alert_refs.length,
      alerts_absorbed: inc.alert_count,
      occurrences: input.alerts.reduce((n, a) => n + a.occurrences, 0),
      reopened: inc.reopened_count,
    },
    timeline: input.events.map((e) => ({ id: e.id, ts: e.ts, type: e.type, author: e.author, message: cut(e.message, MAX_MESSAGE_CHARS) })),
    contributing_signals: {
      by_fingerprint: [...signals.values()].sort((a, b) => b.occurrences - a.occurrences || a.fingerprint.localeCompare(b.fingerprint)),
      by_kind: [...byKind].map(([kind, occurrences]) => ({ kind, occurrences })).sort((a, b) => b.occurrences - a.occurrences || a.kind.localeCompare(b.kind)),
    },
    followups: input.followups.map((f) => ({
      followup_id: f.followup_id, title: f.title, owner: f.owner, due_date: f.due_date, status: f.status,
      days_overdue: daysOverdue(f, now) ?? null,
    })),
    related: input.related,
    open_questions: openQuestions(input),
  };
}
export type PostmortemDraft = ReturnType<typeof postmortemData>;

