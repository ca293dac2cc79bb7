/**
 * Recurrence: which signatures and services keep producing incidents — counts in a window, the
 * previous window of the same length, the trend between them and a level from the policy.
 */
import type { IncidentIntelligence } from "../config/policies.js";
import type { IncidentQuery, IncidentRecord, IncidentStore } from "./store.js";
import { listAllIncidents, newestFirst } from "./query.js";

export type RecurrencePolicy = IncidentIntelligence["recurrence"];
export type Trend = "up" | "down" | "flat" | "new";
export type RecurrenceLevel = "ok" | "warn" | "high";

const DAY_MS = 86_400_000;
/** Incident ids listed per entry (newest first). */
const MAX_IDS = 10;

export interface RecurrenceEntry {
  /** The signature, or the service for service entries. */
  key: string;
  service: string;
  count: number;
  previous_count: number;
  trend: Trend;
  level: RecurrenceLevel;
  /** Of the window's incidents, how many are not closed. */
  open: number;
  last_started_at: string;
  incident_ids: string[];
}

export interface RecurrenceResult {
  window_days: number;
  from: string;
  to: string;
  previous_from: string;
  total_incidents: number;
  previous_total: number;
  /** Entries with count ≥ min_count, most incidents first. */
  signatures: RecurrenceEntry[];
  services: RecurrenceEntry[];
}

export function trendOf(count: number, previous: number): Trend {
  if (previous === 0) return count > 0 ? "new" : "flat";
  return count > previous ? "up" : count < previous ? "down" : "flat";
}

export function levelOf(count: number, policy: RecurrencePolicy): RecurrenceLevel {
  return count >= policy.high ? "high" : count >= policy.warn ? "warn" : "ok";
}

/** Pure: every group of the window (no min_count filter), most incidents first, then by key. */
export function recurrenceGroups(
  current: IncidentRecord[],
  previous: IncidentRecord[],
  keyOf: (inc: IncidentRecord) => string | undefined,
  policy: RecurrencePolicy,
): RecurrenceEntry[] {
  const prevCounts = new Map<string, number>();
  for (const inc of previous) {
    const k = keyOf(inc);
    if (k !== undefined) prevCounts.set(k, (prevCounts.get(k) ?? 0) + 1);
  }
  const groups = new Map<string, IncidentRecord[]>();
  for (const inc of current) {
    const k = keyOf(inc);
    if (k === undefined) continue;
    const list = groups.get(k) ?? [];
    list.push(inc);
    groups.set(k, list);
  }
  const out: RecurrenceEntry[] = [];
  for (const [key, list] of groups) {
    list.sort(newestFirst);
    const previous_count = prevCounts.get(key) ?? 0;
    out.push({
      key,
      service: list[0]!.service,
      count: list.length,
      previous_count,
      trend: trendOf(list.length, previous_count),
      level: levelOf(list.length, policy),
      open: list.filter((i) => i.status !== "closed").length,
      last_started_at: list[0]!.started_at,
      incident_ids: list.slice(0, MAX_IDS).map((i) => i.id),
    });
  }
  return out.sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** Incidents of `[to − window, to)` and of the window before it; `only` narrows to one service or signature (an indexed read). */
export async function windowIncidents(store: IncidentStore, windowDays: number, to: Date, only: Pick<IncidentQuery, "service" | "signature"> = {}) {
  const from = new Date(to.getTime() - windowDays * DAY_MS);
  const previousFrom = new Date(from.getTime() - windowDays * DAY_MS);
  const all = await listAllIncidents(store, { ...only, since: previousFrom.toISOString(), until: to.toISOString() });
  return {
    from,
    previousFrom,
    current: all.filter((i) => Date.parse(i.started_at) >= from.getTime()),
    previous: all.filter((i) => Date.parse(i.started_at) < from.getTime()),
  };
}

export const bySignature = (i: IncidentRecord) => i.signature;
export const byService = (i: IncidentRecord) => i.service;

/** Signatures and services with at least `min_count` incidents in the `window_days` before `now`. */
export async function recurrence(store: IncidentStore, windowDays: number, policy: RecurrencePolicy, now: Date): Promise<RecurrenceResult> {
  const w = await windowIncidents(store, windowDays, now);
  const recurring = (e: RecurrenceEntry) => e.count >= policy.min_count;
  return {
    window_days: windowDays,
    from: w.from.toISOString(),
    to: now.toISOString(),
    previous_from: w.previousFrom.toISOString(),
    total_incidents: w.current.length,
    previous_total: w.previous.length,
    signatures: recurrenceGroups(w.current, w.previous, bySignature, policy).filter(recurring),
    services: recurrenceGroups(w.current, w.previous, byService, policy).filter(recurring),
  };
}

/**
 * The recurrence entries of one incident's signature and service (what a triage report shows):
 * two indexed reads of that signature's and that service's incidents, not every incident of the
 * window, so a report costs the same however many other services have incidents.
 */
export async function recurrenceOf(
  store: IncidentStore,
  incident: Pick<IncidentRecord, "service" | "signature">,
  windowDays: number,
  policy: RecurrencePolicy,
  now: Date,
): Promise<{ signature: RecurrenceEntry | null; service: RecurrenceEntry | null }> {
  const entry = async (only: Pick<IncidentQuery, "service" | "signature">, keyOf: (i: IncidentRecord) => string | undefined, key: string) => {
    const w = await windowIncidents(store, windowDays, now, only);
    return recurrenceGroups(w.current, w.previous, keyOf, policy).find((g) => g.key === key) ?? null;
  };
  const sig = incident.signature;
  const [signature, service] = await Promise.all([
    sig === undefined ? null : entry({ signature: sig }, bySignature, sig),
    entry({ service: incident.service }, byService, incident.service),
  ]);
  return { signature, service };
}
