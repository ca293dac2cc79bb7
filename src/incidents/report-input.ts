/**
 * What the triage report and the postmortem draft are built from, gathered once: the incident, its
 * whole timeline, the alerts its events reference, related incidents, recurrence and follow-ups.
 */
import { notFound } from "../errors.js";
import type { IncidentIntelligence } from "../config/policies.js";
import type { AlertRecord } from "../subjects/index.js";
import type { AlertStore } from "../alerts/store.js";
import type { IncidentEvent, IncidentRecord, IncidentStore } from "./store.js";
import { correlate, type RelatedIncident } from "./correlate.js";
import { followupsFromEvents, type Followup } from "./followups.js";
import { eventsOf } from "./query.js";
import { recurrenceOf, type RecurrenceEntry } from "./recurrence.js";

const ALERT_CHUNK = 500;

export interface ReportInput {
  incident: IncidentRecord;
  /** Every timeline event, oldest first. */
  events: IncidentEvent[];
  /** Alert refs the timeline mentions, in order of first mention. */
  alert_refs: string[];
  /** The alerts of those refs that the alert store still has (retention may have removed some). */
  alerts: AlertRecord[];
  related: RelatedIncident[];
  recurrence: { window_days: number; signature: RecurrenceEntry | null; service: RecurrenceEntry | null };
  followups: Followup[];
  /** ISO; the reports' only notion of time. */
  now: string;
}

export interface ReportSources {
  incidents: IncidentStore;
  alerts?: AlertStore;
  policy: IncidentIntelligence;
}

/** Alert refs in order of first mention: `meta.alert_ref` of events, then the incident's first_alert_ref / alert_ref labels. */
export function alertRefsOf(incident: IncidentRecord, events: IncidentEvent[]): string[] {
  const refs = new Set<string>();
  for (const e of events) if (typeof e.meta.alert_ref === "string" && e.meta.alert_ref) refs.add(e.meta.alert_ref);
  for (const label of [incident.labels.first_alert_ref, incident.labels.alert_ref]) if (typeof label === "string" && label) refs.add(label);
  return [...refs];
}

async function fetchAlerts(store: AlertStore | undefined, refs: string[]): Promise<AlertRecord[]> {
  if (!store || refs.length === 0) return [];
  const out: AlertRecord[] = [];
  for (let i = 0; i < refs.length; i += ALERT_CHUNK) out.push(...(await store.getMany(refs.slice(i, i + ALERT_CHUNK))));
  const order = new Map(refs.map((r, i) => [r, i]));
  return out.sort((a, b) => (order.get(a.alert_ref) ?? 0) - (order.get(b.alert_ref) ?? 0));
}

export async function gatherReportInput(src: ReportSources, incidentId: string, now: Date): Promise<ReportInput> {
  const incident = await src.incidents.get(incidentId);
  if (!incident) throw notFound(`incident ${incidentId} not found`);
  const events = await eventsOf(src.incidents, [incident.id]);
  const alert_refs = alertRefsOf(incident, events);
  const windowDays = src.policy.recurrence.window_days;
  const [alerts, correlation, recurrence] = await Promise.all([
    fetchAlerts(src.alerts, alert_refs),
    correlate(src.incidents, incident.id, src.policy.correlation, now),
    recurrenceOf(src.incidents, incident, windowDays, src.policy.recurrence, now),
  ]);
  return {
    incident,
    events,
    alert_refs,
    alerts,
    related: correlation.related,
    recurrence: { window_days: windowDays, ...recurrence },
    followups: followupsFromEvents(events),
    now: now.toISOString(),
  };
}
