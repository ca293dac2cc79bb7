/**
 * Schemas of the governance scoring policies: risk (config/risk_policy.yml), its attribution
 * weights (config/risk_attribution.yml) and architecture pressure (config/architecture_pressure.yml).
 * Scores are sums of capped factor points, so the default caps add up to 100.
 */
import { z } from "zod";

const Points = z.number().min(0);
const BySeverity = (d: { P0: number; P1: number; P2: number; P3: number }) =>
  z.strictObject({ P0: Points.default(d.P0), P1: Points.default(d.P1), P2: Points.default(d.P2), P3: Points.default(d.P3) }).prefault({});

/** Band thresholds: a score ≥ `critical` is critical, else ≥ `high` high, else ≥ `medium` medium, else low. */
const Bands = (d: { medium: number; high: number; critical: number }) =>
  z
    .strictObject({ medium: Points.default(d.medium), high: Points.default(d.high), critical: Points.default(d.critical) })
    .prefault({})
    .refine((b) => b.medium <= b.high && b.high <= b.critical, "bands must satisfy medium ≤ high ≤ critical");

export const RiskPolicy = z.strictObject({
  bands: Bands({ medium: 20, high: 50, critical: 75 }),
  /** Services always scored (0 when nothing happened), besides those seen in incidents and alerts. */
  services: z.array(z.string().min(1)).default([]),
  history: z
    .strictObject({
      /** Snapshots older than this are removed by `cleanup`. */
      retention_days: z.number().int().min(1).max(3650).default(90),
    })
    .prefault({}),
  digest: z
    .strictObject({
      /** Services listed as top risers (largest 24 h increase first). */
      top_risers: z.number().int().min(1).max(100).default(5),
    })
    .prefault({}),
});
export type RiskPolicy = z.infer<typeof RiskPolicy>;

export const RiskAttribution = z.strictObject({
  /** Points per incident not closed, by severity. */
  open_incidents: z.strictObject({ points: BySeverity({ P0: 40, P1: 25, P2: 10, P3: 5 }), max: Points.default(40) }).prefault({}),
  /** Incidents started in the window, counted only when there are at least min_count of them. */
  recurrence: z
    .strictObject({
      window_days: z.number().int().min(1).max(365).default(7),
      min_count: z.number().int().min(2).default(2),
      points_per_incident: Points.default(5),
      max: Points.default(20),
    })
    .prefault({}),
  /** Open follow-ups past their due date (of incidents open or started within window_days). */
  followups_overdue: z
    .strictObject({ window_days: z.number().int().min(1).max(3650).default(90), points_per_followup: Points.default(5), max: Points.default(15) })
    .prefault({}),
  /** Alerts of these kinds last seen within the window (alert records, not occurrences). */
  slo_breaches: z
    .strictObject({
      kinds: z.array(z.string().min(1)).min(1).default(["slo_breach"]),
      window_hours: z.number().int().min(1).max(24 * 30).default(24),
      points_per_alert: Points.default(5),
      max: Points.default(15),
    })
    .prefault({}),
  /** Alert occurrences per hour over the window. */
  alert_rate: z
    .strictObject({
      window_hours: z.number().int().min(1).max(24 * 30).default(24),
      points_per_alert_per_hour: Points.default(2),
      max: Points.default(10),
    })
    .prefault({}),
});
export type RiskAttribution = z.infer<typeof RiskAttribution>;

export const ArchitecturePressure = z.strictObject({
  /** Incidents, recurrence and follow-ups are read over the window_days before the week's end. */
  window_days: z.number().int().min(7).max(365).default(28),
  bands: Bands({ medium: 25, high: 50, critical: 75 }),
  factors: z
    .strictObject({
      /** Points per incident started in the window, by severity. */
      incidents: z.strictObject({ points: BySeverity({ P0: 10, P1: 5, P2: 2, P3: 1 }), max: Points.default(35) }).prefault({}),
      /** Per signature with ≥ min_count incidents in the window: points × (count − 1). */
      recurrence: z
        .strictObject({ min_count: z.number().int().min(2).default(2), points_per_repeat: Points.default(5), max: Points.default(25) })
        .prefault({}),
      /** Risk score increase over trend_days (from risk history), points per risk point; a fall counts 0. */
      risk_trend: z
        .strictObject({ trend_days: z.number().int().min(1).max(90).default(7), points_per_risk_point: Points.default(0.5), max: Points.default(20) })
        .prefault({}),
      /** Open follow-ups past due at the week's end. */
      followups_overdue: z.strictObject({ points_per_followup: Points.default(5), max: Points.default(20) }).prefault({}),
    })
    .prefault({}),
  arch_review: z
    .strictObject({
      /** Bands that require an architecture review. */
      bands: z.array(z.enum(["low", "medium", "high", "critical"])).default(["high", "critical"]),
      /** …or at least this many recurring signatures in the window (0 = off). */
      min_recurring_signatures: z.number().int().min(0).default(3),
    })
    .prefault({}),
  markdown_max_chars: z.number().int().min(1000).default(20_000),
});
export type ArchitecturePressure = z.infer<typeof ArchitecturePressure>;

export const BANDS = ["low", "medium", "high", "critical"] as const;
export type Band = (typeof BANDS)[number];

/** The band of a score under thresholds (each threshold is inclusive). */
export function bandOf(score: number, t: { medium: number; high: number; critical: number }): Band {
  if (score >= t.critical) return "critical";
  if (score >= t.high) return "high";
  if (score >= t.medium) return "medium";
  return "low";
}
