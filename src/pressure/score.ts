/**
 * Architecture pressure: per (env, service) over the window before a week's end, the sum of four
 * capped factors — incidents by severity, recurring signatures, the risk score's rise (risk
 * history) and overdue follow-ups — with a band and whether an architecture review is required.
 * Pure over loaded data; one pass over the incidents.
 */
import { bandOf, type ArchitecturePressure, type Band } from "../config/risk-policy.js";
import { daysOverdue, followupsFromEvents } from "../incidents/followups.js";
import { round2 } from "../risk/score.js";
import type { IncidentEvent, IncidentRecord } from "../incidents/store.js";
import type { RiskSnapshot } from "../risk/store.js";
import { SEVERITIES, type Severity } from "../subjects/index.js";

const DAY_MS = 86_400_000;
/** Recurring signatures listed per service. */
const MAX_SIGNATURES = 10;

export const PRESSURE_FACTORS = ["incidents", "recurrence", "risk_trend", "followups_overdue"] as const;
export type PressureFactor = (typeof PRESSURE_FACTORS)[number];

export interface PressureContribution {
  /** What the factor added to the score (after its cap). */
  points: number;
  /** incidents: count; recurrence: recurring signatures; risk_trend: score change (may be < 0, or null without history); followups_overdue: count. */
  value: number | null;
  max: number;
  detail: string;
}

export interface ServicePressure {
  service: string;
  env: string;
  /** The sum of the factors' points. */
  score: number;
  band: Band;
  requires_arch_review: boolean;
  /** Why a review is required (empty when it is not). */
  review_reasons: string[];
  /** Every factor, by name. */
  factors: Record<PressureFactor, PressureContribution>;
  /** The factors that added points, most points first: what the backlog turns into items. */
  categories: PressureFactor[];
  stats: {
    incidents: number;
    by_severity: Record<Severity, number>;
    recurring_signatures: Array<{ signature: string; count: number }>;
    risk_score: number | null;
    risk_score_before: number | null;
    followups_overdue: number;
  };
}

export interface PressureInput {
  /** End of the window (exclusive): the week's end, or now for the current week. */
  to: Date;
  /** Incidents started in the window, and those not closed by `to`. */
  incidents: IncidentRecord[];
  followupEvents: IncidentEvent[];
  /** Latest risk snapshots at `to` and at `to − trend_days`. */
  riskNow: RiskSnapshot[];
  riskBefore: RiskSnapshot[];
}

interface Tally {
  env: string;
  service: string;
  bySeverity: Record<Severity, number>;
  signatures: Map<string, number>;
  overdue: number;
}

const pairKey = (env: string, service: string) => `${env}\u0000${service}`;

export function computePressure(input: PressureInput, policy: ArchitecturePressure): ServicePressure[] {
  const to = input.to.getTime();
  const from = to - policy.window_days * DAY_MS;
  const tallies = new Map<string, Tally>();
  const tally = (env: string, service: string): Tally => {
    const k = pairKey(env, service);
    let t = tallies.get(k);
    if (!t) {
      t = { env, service, bySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>, signatures: new Map(), overdue: 0 };
      tallies.set(k, t);
    }
    return t;
  };

  const scope = new Map<string, IncidentRecord>();
  for (const inc of input.incidents) {
    const started = Date.parse(inc.started_at);
    if (started >= to) continue;
    const openAtEnd = inc.closed_at === undefined || Date.parse(inc.closed_at) >= to;
    const inWindow = started >= from;
    if (!inWindow && !openAtEnd) continue;
    const t = tally(inc.env, inc.service);
    scope.set(inc.id, inc);
    if (!inWindow) continue;
    t.bySeverity[inc.severity] += 1;
    if (inc.signature !== undefined) t.signatures.set(inc.signature, (t.signatures.get(inc.signature) ?? 0) + 1);
  }
  const events = input.followupEvents.filter((e) => scope.has(e.incident_id) && Date.parse(e.ts) < to);
  for (const f of followupsFromEvents(events)) {
    if (daysOverdue(f, input.to) === undefined) continue;
    const inc = scope.get(f.incident_id)!;
    tally(inc.env, inc.service).overdue += 1;
  }
  const riskNow = new Map(input.riskNow.map((s) => [pairKey(s.env, s.service), s.score]));
  const riskBefore = new Map(input.riskBefore.map((s) => [pairKey(s.env, s.service), s.score]));
  for (const s of input.riskNow) tally(s.env, s.service);

  const out = [...tallies.values()].map((t) => {
    const k = pairKey(t.env, t.service);
    return scoreOf(t, riskNow.get(k) ?? null, riskBefore.get(k) ?? null, policy);
  });
  return out.sort((a, b) => b.score - a.score || a.env.localeCompare(b.env) || a.service.localeCompare(b.service));
}

function factor(raw: number, max: number, value: number | null, detail: string): PressureContribution {
  return { points: round2(Math.max(0, Math.min(raw, max))), value, max, detail };
}

function scoreOf(t: Tally, now: number | null, before: number | null, policy: ArchitecturePressure): ServicePressure {
  const f = policy.factors;
  const count = SEVERITIES.reduce((n, s) => n + t.bySeverity[s], 0);
  const recurring = [...t.signatures]
    .filter(([, n]) => n >= f.recurrence.min_count)
    .map(([signature, n]) => ({ signature, count: n }))
    .sort((a, b) => b.count - a.count || a.signature.localeCompare(b.signature));
  const repeats = recurring.reduce((n, r) => n + r.count - 1, 0);
  const trend = now !== null && before !== null ? round2(now - before) : null;
  const factors: Record<PressureFactor, PressureContribution> = {
    incidents: factor(
      SEVERITIES.reduce((n, s) => n + t.bySeverity[s] * f.incidents.points[s], 0),
      f.incidents.max,
      count,
      SEVERITIES.filter((s) => t.bySeverity[s] > 0).map((s) => `${t.bySeverity[s]}×${s}`).join(", ") || "none",
    ),
    recurrence: factor(repeats * f.recurrence.points_per_repeat, f.recurrence.max, recurring.length, `${recurring.length} recurring signature(s), ${repeats} repeat(s)`),
    risk_trend: factor(
      trend === null ? 0 : trend * f.risk_trend.points_per_risk_point,
      f.risk_trend.max,
      trend,
      trend === null ? "no risk history" : `risk ${before} → ${now} over ${f.risk_trend.trend_days} d`,
    ),
    followups_overdue: factor(t.overdue * f.followups_overdue.points_per_followup, f.followups_overdue.max, t.overdue, `${t.overdue} overdue`),
  };
  const score = round2(PRESSURE_FACTORS.reduce((n, k) => n + factors[k].points, 0));
  const band = bandOf(score, policy.bands);
  const review_reasons: string[] = [];
  if (policy.arch_review.bands.includes(band)) review_reasons.push(`band ${band}`);
  const minSigs = policy.arch_review.min_recurring_signatures;
  if (minSigs > 0 && recurring.length >= minSigs) review_reasons.push(`${recurring.length} recurring signatures (≥ ${minSigs})`);
  const categories = PRESSURE_FACTORS.filter((k) => factors[k].points > 0).sort((a, b) => factors[b].points - factors[a].points);
  return {
    service: t.service,
    env: t.env,
    score,
    band,
    requires_arch_review: review_reasons.length > 0,
    review_reasons,
    factors,
    categories,
    stats: {
      incidents: count,
      by_severity: t.bySeverity,
      recurring_signatures: recurring.slice(0, MAX_SIGNATURES),
      risk_score: now,
      risk_score_before: before,
      followups_overdue: t.overdue,
    },
  };
}
