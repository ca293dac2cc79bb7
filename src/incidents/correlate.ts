/**
 * Correlation: incidents related to one incident, scored by the reasons that hold (weights from
 * config/incident_intelligence.yml), best first.
 */
import { notFound } from "../errors.js";
import type { IncidentIntelligence } from "../config/policies.js";
import type { IncidentRecord, IncidentStore } from "./store.js";
import { listAllIncidents } from "./query.js";

export type CorrelationPolicy = IncidentIntelligence["correlation"];
export const CORRELATION_REASONS = ["same_signature", "same_service", "same_kind", "time_proximity"] as const;
export type CorrelationReason = (typeof CORRELATION_REASONS)[number];

const DAY_MS = 86_400_000;
const MIN_MS = 60_000;

export interface RelatedIncident {
  incident_id: string;
  title: string;
  service: string;
  env: IncidentRecord["env"];
  severity: IncidentRecord["severity"];
  status: IncidentRecord["status"];
  started_at: string;
  closed_at?: string;
  resolution?: string;
  signature?: string;
  /** 0–100. */
  score: number;
  reasons: CorrelationReason[];
  /** Minutes between the two starts, rounded. */
  minutes_apart: number;
}

export interface CorrelationResult {
  incident_id: string;
  lookback_days: number;
  /** Incidents read and scored (same signature or service in the lookback window, or close in time; the incident itself excluded). */
  candidates: number;
  related: RelatedIncident[];
}

export function kindOf(inc: IncidentRecord): string | undefined {
  const k = inc.labels.kind;
  return typeof k === "string" && k.length > 0 ? k : undefined;
}

export function scoreCandidate(target: IncidentRecord, cand: IncidentRecord, policy: CorrelationPolicy): { score: number; reasons: CorrelationReason[]; minutes_apart: number } {
  const minutesApart = Math.abs(Date.parse(cand.started_at) - Date.parse(target.started_at)) / MIN_MS;
  const holds: Record<CorrelationReason, boolean> = {
    same_signature: target.signature !== undefined && target.signature === cand.signature,
    same_service: target.service === cand.service,
    same_kind: kindOf(target) !== undefined && kindOf(target) === kindOf(cand),
    time_proximity: minutesApart <= policy.time_proximity_minutes,
  };
  const reasons = CORRELATION_REASONS.filter((r) => holds[r]);
  const score = Math.min(100, reasons.reduce((sum, r) => sum + policy.weights[r], 0));
  return { score: Math.round(score * 100) / 100, reasons, minutes_apart: Math.round(minutesApart) };
}

/** Pure ranking: score ≥ min_score, best score first, then the most recent, at most max_related. */
export function rankRelated(target: IncidentRecord, candidates: IncidentRecord[], policy: CorrelationPolicy): RelatedIncident[] {
  const seen = new Set<string>([target.id]);
  const out: RelatedIncident[] = [];
  for (const c of candidates) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    const s = scoreCandidate(target, c, policy);
    if (s.reasons.length === 0 || s.score < policy.min_score) continue;
    out.push({
      incident_id: c.id,
      title: c.title,
      service: c.service,
      env: c.env,
      severity: c.severity,
      status: c.status,
      started_at: c.started_at,
      ...(c.closed_at ? { closed_at: c.closed_at } : {}),
      ...(c.resolution ? { resolution: c.resolution } : {}),
      ...(c.signature ? { signature: c.signature } : {}),
      ...s,
    });
  }
  out.sort((a, b) => b.score - a.score || Date.parse(b.started_at) - Date.parse(a.started_at) || a.incident_id.localeCompare(b.incident_id));
  return out.slice(0, policy.max_related);
}

/** Candidates read for time proximity (and, when it alone can qualify, same kind): the newest page of their window. */
export const PROXIMITY_CANDIDATES = 250;
/** Candidates read per signature and per service. */
const KEYED_CANDIDATES = 10_000;

/**
 * Candidates started within lookback_days either side of the incident (not after `now`), read by
 * the reasons that can reach min_score, each through an indexed lookup: the incident's signature
 * and its service over the lookback window, and the incidents started within
 * time_proximity_minutes of it (newest first, at most PROXIMITY_CANDIDATES). The work is bounded
 * by the incident's own history and its time neighbourhood, never by every incident of the window:
 * a triage run costs the same with 500 incidents or 50,000. Only when same_kind alone reaches
 * min_score (not with the default weights) is the newest page of the whole window read as well.
 */
export async function correlate(store: IncidentStore, incidentId: string, policy: CorrelationPolicy, now: Date): Promise<CorrelationResult> {
  const target = await store.get(incidentId);
  if (!target) throw notFound(`incident ${incidentId} not found`);
  const start = Date.parse(target.started_at);
  const lo = start - policy.lookback_days * DAY_MS;
  const hi = Math.min(start + policy.lookback_days * DAY_MS, Math.max(now.getTime(), start)) + 1;
  const iso = (ms: number) => new Date(ms).toISOString();
  const window = { since: iso(lo), until: iso(hi) };
  const near = { since: iso(Math.max(lo, start - policy.time_proximity_minutes * MIN_MS)), until: iso(Math.min(hi, start + policy.time_proximity_minutes * MIN_MS + 1)) };
  const reads = [
    listAllIncidents(store, { ...window, service: target.service }, KEYED_CANDIDATES),
    ...(target.signature ? [listAllIncidents(store, { ...window, signature: target.signature }, KEYED_CANDIDATES)] : []),
    store.list({ ...near, limit: PROXIMITY_CANDIDATES }),
    ...(policy.weights.same_kind >= policy.min_score ? [store.list({ ...window, limit: PROXIMITY_CANDIDATES })] : []),
  ];
  const byId = new Map<string, IncidentRecord>();
  for (const list of await Promise.all(reads)) for (const inc of list) byId.set(inc.id, inc);
  byId.delete(target.id);
  return { incident_id: target.id, lookback_days: policy.lookback_days, candidates: byId.size, related: rankRelated(target, [...byId.values()], policy) };
}
