/**
 * followup_watch: incidents of the blocking severities not yet closed, and overdue follow-ups,
 * for the service (or the whole env) — the same summary oncall_tool.incident_followups_summary gives.
 */
import type { ReleaseGatePolicy } from "../config/release-policy.js";
import { followupsSummary } from "../incidents/followups.js";
import { loadIncidentData } from "../risk/load.js";
import type { IncidentStore } from "../incidents/store.js";
import type { GateFindings } from "./types.js";

const DAY_MS = 86_400_000;
/** Incidents and follow-ups named one by one in the reasons; the rest are counted. */
const MAX_LISTED = 5;

export interface FollowupGateDeps {
  incidents: IncidentStore;
  policy: ReleaseGatePolicy["followup_watch"];
}

export async function followupWatch(d: FollowupGateDeps, q: { service?: string; env: string; now: Date }): Promise<GateFindings> {
  const { policy, incidents: store } = d;
  const scope = { env: q.env, ...(q.service ? { service: q.service } : {}) };
  const since = new Date(q.now.getTime() - policy.window_days * DAY_MS);
  const { incidents, followupEvents } = await loadIncidentData(store, since, new Date(q.now.getTime() + 1), scope);
  const summary = followupsSummary({ incidents, events: followupEvents, now: q.now, ...scope, window_days: policy.window_days });
  const f: GateFindings = { problems: [], notes: [], details: { open_incidents: summary.open_incidents, overdue_count: summary.overdue_count, overdue: summary.overdue } };

  const blocking = incidents
    .filter((i) => i.status !== "closed" && policy.severities.includes(i.severity))
    .sort((a, b) => a.severity.localeCompare(b.severity) || a.started_at.localeCompare(b.started_at));
  f.details.blocking_incidents = blocking.map((i) => ({ id: i.id, service: i.service, severity: i.severity, status: i.status, title: i.title }));
  for (const i of blocking.slice(0, MAX_LISTED)) f.problems.push(`open ${i.severity} incident ${i.id} on ${i.service}: "${i.title}" (${i.status})`);
  if (blocking.length > MAX_LISTED) f.problems.push(`… and ${blocking.length - MAX_LISTED} more open ${policy.severities.join("/")} incident(s)`);

  if (summary.overdue_count > policy.max_overdue_followups) {
    const allowed = policy.max_overdue_followups ? ` (at most ${policy.max_overdue_followups} allowed)` : "";
    f.problems.push(`${summary.overdue_count} overdue follow-up(s)${allowed}`);
    for (const o of summary.overdue.slice(0, MAX_LISTED)) {
      f.problems.push(`overdue follow-up "${o.title}" on ${o.incident_id} (${o.severity}), owner ${o.owner || "none"}, due ${o.due_date}, ${o.days_overdue} day(s) late`);
    }
  }
  if (f.problems.length === 0) {
    f.notes.push(`no open ${policy.severities.join("/")} incident, ${summary.overdue_count} overdue follow-up(s)${q.service ? ` for ${q.service}` : ""} in ${q.env}`);
  }
  return f;
}
