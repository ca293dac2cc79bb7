/**
 * Loads what the risk and pressure scores read, never per incident: in-process stores in one pass
 * over their rows, Postgres by time slices of ~800 incidents (incident-scan.ts) and follow-up events
 * by type; alerts by window. Everything is aggregated in memory afterwards.
 */
import type { RiskAttribution } from "../config/risk-policy.js";
import type { AlertStore } from "../alerts/store.js";
import type { IncidentEvent, IncidentQuery, IncidentRecord, IncidentStore } from "../incidents/store.js";
import type { Pingable } from "../util/store-port.js";
import type { AlertRecord } from "../subjects/index.js";
import { scanIncidents } from "./incident-scan.js";
import type { RiskInput } from "./score.js";

const DAY_MS = 86_400_000;
/** Per events() call; pages continue from the last timestamp read. */
const EVENT_PAGE = 100_000;
/** The alert store answers at most this many alerts per list call. */
const ALERT_PAGE = 500;

export interface ScopeFilter {
  env?: string;
  service?: string;
}

/** Memory and JSONL stores have no ping(): reading all their rows is one copy in this process. */
function inProcess(store: IncidentStore): boolean {
  return typeof (store as Partial<Pingable>).ping !== "function";
}

const wanted = (inc: IncidentRecord, f: ScopeFilter) => (!f.env || inc.env === f.env) && (!f.service || inc.service === f.service);

/** Incidents not closed (now) plus those started in [since, until), each once; all started before `until`. */
export async function loadIncidents(store: IncidentStore, since: Date, until: Date, f: ScopeFilter): Promise<IncidentRecord[]> {
  if (inProcess(store)) return (await loadInProcess(store, since, until, f)).incidents;
  const q: Omit<IncidentQuery, "limit"> = { ...(f.env ? { env: f.env } : {}), ...(f.service ? { service: f.service } : {}) };
  const [open, recent] = await Promise.all([
    scanIncidents(store, { ...q, status: ["open", "mitigating"] }, { until }),
    scanIncidents(store, q, { since, until }),
  ]);
  const byId = new Map<string, IncidentRecord>();
  for (const inc of [...open, ...recent]) byId.set(inc.id, inc);
  return [...byId.values()];
}

/**
 * The incidents of `loadIncidents` with their follow-up events. An in-process store is read in one
 * pass over its rows (its list() sorts per call, so paging 100,000 incidents would be quadratic);
 * Postgres by indexed time slices plus one events query by type.
 */
export async function loadIncidentData(store: IncidentStore, since: Date, until: Date, f: ScopeFilter) {
  if (inProcess(store)) return loadInProcess(store, since, until, f);
  const incidents = await loadIncidents(store, since, until, f);
  return { incidents, followupEvents: await loadFollowupEvents(store, new Set(incidents.map((i) => i.id))) };
}

async function loadInProcess(store: IncidentStore, since: Date, until: Date, f: ScopeFilter) {
  const rows = await store.exportRows();
  const incidents: IncidentRecord[] = [];
  for (const r of rows) {
    if (r.kind !== "incident" || !wanted(r.data, f)) continue;
    const started = Date.parse(r.data.started_at);
    if (started >= until.getTime()) continue;
    if (r.data.status !== "closed" || started >= since.getTime()) incidents.push(r.data);
  }
  const ids = new Set(incidents.map((i) => i.id));
  const followupEvents: IncidentEvent[] = [];
  for (const r of rows) if (r.kind === "event" && r.data.type === "followup" && ids.has(r.data.incident_id)) followupEvents.push(r.data);
  followupEvents.sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  return { incidents, followupEvents };
}

/**
 * Every `followup` event of the given incidents, oldest first. Reads all follow-up events by type
 * (they are few next to incidents) instead of asking per incident.
 */
export async function loadFollowupEvents(store: IncidentStore, incidentIds: ReadonlySet<string>): Promise<IncidentEvent[]> {
  const byId = new Map<string, IncidentEvent>();
  let since: string | undefined;
  for (;;) {
    const page = await store.events({ type: "followup", ...(since ? { since } : {}), limit: EVENT_PAGE });
    let added = 0;
    for (const e of page) {
      if (byId.has(e.id)) continue;
      byId.set(e.id, e);
      added++;
    }
    const last = page.at(-1)?.ts;
    // A full page that added nothing new cannot make progress (one instant holds a whole page).
    if (page.length < EVENT_PAGE || added === 0 || last === undefined || last === since) break;
    since = last;
  }
  return [...byId.values()].filter((e) => incidentIds.has(e.incident_id));
}

/** Alerts last seen within `windowMinutes`: one call, or one per service when the first one was full. */
export async function loadAlerts(store: AlertStore, windowMinutes: number, now: Date, f: ScopeFilter, services: Iterable<string>): Promise<AlertRecord[]> {
  const base = { window_minutes: windowMinutes, limit: ALERT_PAGE, ...(f.env ? { env: f.env } : {}) };
  const first = await store.list({ ...base, ...(f.service ? { service: f.service } : {}) }, now);
  if (first.length < ALERT_PAGE || f.service) return first;
  const names = new Set([...services, ...first.map((a) => a.service)]);
  const pages = await Promise.all([...names].map((service) => store.list({ ...base, service }, now)));
  return pages.flat();
}

export interface RiskSources {
  incidents: IncidentStore;
  alerts: AlertStore;
}

/** Everything `computeRisk` reads for `now` (optionally one env or service). */
export async function loadRiskInput(src: RiskSources, w: RiskAttribution, now: Date, f: ScopeFilter = {}): Promise<RiskInput> {
  const days = Math.max(w.recurrence.window_days, w.followups_overdue.window_days);
  const until = new Date(now.getTime() + 1);
  const { incidents, followupEvents } = await loadIncidentData(src.incidents, new Date(now.getTime() - days * DAY_MS), until, f);
  const windowMinutes = 60 * Math.max(w.slo_breaches.window_hours, w.alert_rate.window_hours);
  const alerts = await loadAlerts(src.alerts, windowMinutes, now, f, new Set(incidents.map((i) => i.service)));
  return { now, incidents, followupEvents, alerts };
}
