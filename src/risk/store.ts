/**
 * The risk history store: one snapshot of a service's risk score per (env, service, hour).
 * Snapshots never change once written, so `put` is idempotent per id (the first one wins): the
 * hourly job may run twice in an hour, or on two nodes, and the hour keeps one snapshot.
 */
import type { Band } from "../config/risk-policy.js";
import type { RiskContribution } from "./score.js";
import type { BaseStore, Replayable } from "../util/store-port.js";

export interface RiskSnapshot {
  /** `<env>:<service>:<hour>`, e.g. `prod:gateway:2026-03-10T14:00:00.000Z`. */
  id: string;
  env: string;
  service: string;
  /** Start of the UTC hour the snapshot stands for (ISO). */
  hour: string;
  /** When it was computed (ISO). */
  ts: string;
  score: number;
  band: Band;
  attribution: RiskContribution[];
}

export interface RiskQuery {
  env?: string;
  service?: string;
  /** hour ≥ since, hour < until (ISO). */
  since?: string;
  until?: string;
  /** Default 1000, at most 100,000. Oldest hour first, then env, service. */
  limit?: number;
}

export const RISK_BOUNDS = { defaultLimit: 1000, maxLimit: 100_000 } as const;

export type RiskRow = { kind: "risk"; data: RiskSnapshot };

export interface PutResult {
  /** Ids written by this call. */
  inserted: string[];
  /** Ids that were already stored (kept as they were). */
  existing: string[];
}

export interface RiskHistoryStore extends BaseStore, Replayable<RiskRow> {
  put(snapshots: RiskSnapshot[]): Promise<PutResult>;
  list(q: RiskQuery): Promise<RiskSnapshot[]>;
  /** Per (env, service), the snapshot with the latest hour ≤ `at` (optionally one env/service). */
  latestAt(at: string, q?: { env?: string; service?: string }): Promise<RiskSnapshot[]>;
  /** Snapshots whose hour is before `cutoff`. */
  countOlderThan(cutoff: Date): Promise<number>;
  purgeOlderThan(cutoff: Date): Promise<number>;
}

export const riskSnapshotId = (env: string, service: string, hour: string): string => `${env}:${service}:${hour}`;

/** Start of the UTC hour of `d`. */
export function hourOf(d: Date): string {
  const ms = d.getTime();
  return new Date(ms - (((ms % 3_600_000) + 3_600_000) % 3_600_000)).toISOString();
}

export function riskLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return RISK_BOUNDS.defaultLimit;
  return Math.max(0, Math.min(Math.floor(limit), RISK_BOUNDS.maxLimit));
}

/** Oldest hour first, then env, service (the same order as the SQL, with "C" collation). */
export function byHour(a: RiskSnapshot, b: RiskSnapshot): number {
  const d = Date.parse(a.hour) - Date.parse(b.hour);
  if (d !== 0) return d;
  const k = (s: RiskSnapshot) => `${s.env}\u0000${s.service}`;
  return k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0;
}

export function riskMatches(s: RiskSnapshot, q: Pick<RiskQuery, "env" | "service" | "since" | "until">): boolean {
  const h = Date.parse(s.hour);
  if (q.env !== undefined && s.env !== q.env) return false;
  if (q.service !== undefined && s.service !== q.service) return false;
  if (q.since !== undefined && h < Date.parse(q.since)) return false;
  if (q.until !== undefined && h >= Date.parse(q.until)) return false;
  return true;
}
