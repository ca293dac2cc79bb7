/**
 * Risk scores: per (env, service), the sum of five capped factors (open incidents by severity,
 * recurrence, overdue follow-ups, SLO-breach alerts, alert rate). Pure over loaded data, so a
 * score can be checked by hand; `attribution` lists every factor's points and they add up to `score`.
 */
import { bandOf, type Band, type RiskAttribution, type RiskPolicy } from "../config/risk-policy.js";
import { daysOverdue, followupsFromEvents } from "../incidents/followups.js";
import type { IncidentEvent, IncidentRecord } from "../incidents/store.js";
import { SEVERITIES, type AlertRecord, type Severity } from "../subjects/index.js";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export const RISK_FACTORS = ["open_incidents", "recurrence", "followups_overdue", "slo_breaches", "alert_rate"] as const;
export type RiskFactor = (typeof RISK_FACTORS)[number];

export interface RiskContribution {
  factor: RiskFactor;
  /** What this factor added to the score (after its cap). */
  points: number;
  /** The measured quantity: a count, or alerts per hour for alert_rate. */
  value: number;
  /** The factor's cap. */
  max: number;
  /** e.g. `1×P0, 2×P2` */
  detail: string;
}

export interface ServiceRisk {
  service: string;
  env: string;
  /** 0–100 with the default caps; the sum of the attribution's points. */
  score: number;
  band: Band;
  /** One entry per factor, in RISK_FACTORS order. */
  attribution: RiskContribution[];
}

export interface RiskInput {
  now: Date;
  /** Incidents not closed, and those started within the recurrence and follow-up windows. */
  incidents: IncidentRecord[];
  /** `followup` events of those incidents (others are ignored). */
  followupEvents: IncidentEvent[];
  /** Alerts last seen within the alert windows. */
  alerts: AlertRecord[];
  /** Services scored even when nothing happened (in `defaultEnv`). */
  services?: string[];
  defaultEnv?: string;
}

/** Two decimals: scores and points are shown and compared at this precision. */
export const round2 = (n: number): number => Math.round(n * 100) / 100;

const keyOf = (env: string, service: string) => `${env}\u0000${service}`;

interface Tally {
  env: string;
  service: string;
  open: Record<Severity, number>;
  recent: number;
  overdue: number;
  slo: number;
  occurrences: number;
}

function contribution(factor: RiskFactor, raw: number, max: number, value: number, detail: string): RiskContribution {
  return { factor, points: round2(Math.min(raw, max)), value, max, detail };
}

/** Every (env, service) with data or listed, most at risk first (then by env, service). */
export function computeRisk(input: RiskInput, weights: RiskAttribution, policy: Pick<RiskPolicy, "bands">): ServiceRisk[] {
  const now = input.now.getTime();
  const tallies = new Map<string, Tally>();
  const tally = (env: string, service: string): Tally => {
    const k = keyOf(env, service);
    let t = tallies.get(k);
    if (!t) {
      t = { env, service, open: Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>, recent: 0, overdue: 0, slo: 0, occurrences: 0 };
      tallies.set(k, t);
    }
    return t;
  };
  for (const service of input.services ?? []) tally(input.defaultEnv ?? "prod", service);

  const recurrenceFrom = now - weights.recurrence.window_days * DAY_MS;
  const followupFrom = now - weights.followups_overdue.window_days * DAY_MS;
  const inScope = new Map<string, IncidentRecord>();
  for (const inc of input.incidents) {
    const started = Date.parse(inc.started_at);
    if (started > now) continue;
    const t = tally(inc.env, inc.service);
    if (inc.status !== "closed") t.open[inc.severity] += 1;
    if (started >= recurrenceFrom) t.recent += 1;
    if (inc.status !== "closed" || started >= followupFrom) inScope.set(inc.id, inc);
  }
  const events = input.followupEvents.filter((e) => inScope.has(e.incident_id) && Date.parse(e.ts) <= now);
  for (const f of followupsFromEvents(events)) {
    if (daysOverdue(f, input.now) === undefined) continue;
    const inc = inScope.get(f.incident_id)!;
    tally(inc.env, inc.service).overdue += 1;
  }

  const sloFrom = now - weights.slo_breaches.window_hours * HOUR_MS;
  const rateFrom = now - weights.alert_rate.window_hours * HOUR_MS;
  const sloKinds = new Set(weights.slo_breaches.kinds);
  for (const a of input.alerts) {
    const seen = Date.parse(a.last_seen_at);
    if (seen > now) continue;
    const inSlo = seen >= sloFrom && sloKinds.has(a.kind);
    const inRate = seen >= rateFrom;
    if (!inSlo && !inRate) continue;
    const t = tally(a.env, a.service);
    if (inSlo) t.slo += 1;
    if (inRate) t.occurrences += a.occurrences;
  }

  const out = [...tallies.values()].map((t) => scoreOf(t, weights, policy));
  return out.sort((a, b) => b.score - a.score || a.env.localeCompare(b.env) || a.service.localeCompare(b.service));
}

function scoreOf(t: Tally, w: RiskAttribution, policy: Pick<RiskPolicy, "bands">): ServiceRisk {
  const openCount = SEVERITIES.reduce((n, s) => n + t.open[s], 0);
  const openRaw = SEVERITIES.reduce((n, s) => n + t.open[s] * w.open_incidents.points[s], 0);
  const openDetail = SEVERITIES.filter((s) => t.open[s] > 0).map((s) => `${t.open[s]}×${s}`).join(", ") || "none";
  const recurs = t.recent >= w.recurrence.min_count;
  const rate = t.occurrences / w.alert_rate.window_hours;
  const attribution = [
    contribution("open_incidents", openRaw, w.open_incidents.max, openCount, openDetail),
    contribution(
      "recurrence",
      recurs ? t.recent * w.recurrence.points_per_incident : 0,
      w.recurrence.max,
      t.recent,
      `${t.recent} incident(s) in ${w.recurrence.window_days} d${recurs ? "" : ` (below ${w.recurrence.min_count})`}`,
    ),
    contribution("followups_overdue", t.overdue * w.followups_overdue.points_per_followup, w.followups_overdue.max, t.overdue, `${t.overdue} overdue`),
    contribution("slo_breaches", t.slo * w.slo_breaches.points_per_alert, w.slo_breaches.max, t.slo, `${t.slo} alert(s) in ${w.slo_breaches.window_hours} h`),
    contribution(
      "alert_rate",
      rate * w.alert_rate.points_per_alert_per_hour,
      w.alert_rate.max,
      round2(rate),
      `${t.occurrences} occurrence(s) in ${w.alert_rate.window_hours} h`,
    ),
  ];
  const score = round2(attribution.reduce((n, c) => n + c.points, 0));
  return { service: t.service, env: t.env, score, band: bandOf(score, policy.bands), attribution };
}
