/**
 * Bounds, order and state-change rules every alert store backend applies (the Postgres backend
 * expresses the reads in SQL): list and dashboard bounds, the effective status a reader sees,
 * the compare-and-set guard of a state change and how a patch applies.
 */
import type { AlertRecord } from "../subjects/index.js";
import { isResolved } from "./ingest-plan.js";
import { normaliseTime } from "../util/iso-time.js";
import { effectiveStatus, type AlertStateGuard, type AlertStatePatch } from "./store.js";

export const LIST_BOUNDS = { defaultWindowMinutes: 240, defaultLimit: 50, maxLimit: 500 } as const;
export const DASHBOARD_BOUNDS = { topSignatures: 10, defaultLatest: 10, maxLatest: 500 } as const;

export function windowStart(windowMinutes: number | undefined, now: Date): number {
  return now.getTime() - (windowMinutes ?? LIST_BOUNDS.defaultWindowMinutes) * 60_000;
}

export function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.max(0, Math.min(Math.floor(limit), max));
}

/** Newest `last_seen_at` first; ties by alert_ref, descending (the same order as the SQL). */
export function byNewest(a: AlertRecord, b: AlertRecord): number {
  const d = Date.parse(b.last_seen_at) - Date.parse(a.last_seen_at);
  if (d !== 0) return d;
  return a.alert_ref < b.alert_ref ? 1 : a.alert_ref > b.alert_ref ? -1 : 0;
}

/** A copy whose `status` is what a reader should see now. */
export function withEffectiveStatus(rec: AlertRecord, now: Date): AlertRecord {
  return { ...rec, status: effectiveStatus(rec, now) };
}

/** The lifecycle state a reader sees: resolved once `resolved_at` is set or `ends_at` has passed. */
export function alertState(a: Pick<AlertRecord, "ends_at" | "resolved_at">, now: Date): "firing" | "resolved" {
  return isResolved(a, now.getTime()) ? "resolved" : "firing";
}

/** The guard holds when the status matches and no newer delivery than the caller's was recorded. */
export function guardHolds(rec: AlertRecord, guard: AlertStateGuard): boolean {
  if (guard.status !== undefined && rec.status !== guard.status) return false;
  if (guard.delivery_count !== undefined && rec.delivery && rec.delivery.delivery_count > guard.delivery_count) return false;
  return true;
}

const PATCH_FIELDS = [
  "status", "owner", "lock_until", "attempts", "last_error", "retry_at", "dead", "ack_note", "acked_at", "delivery", "suppression",
] as const satisfies ReadonlyArray<keyof AlertStatePatch>;

const TIME_FIELDS = new Set<string>(["lock_until", "retry_at", "acked_at"]);

/** The record after the patch: `undefined` leaves a field, `null` removes it. */
export function applyPatch(rec: AlertRecord, patch: AlertStatePatch): AlertRecord {
  const next: Record<string, unknown> = { ...rec };
  for (const field of PATCH_FIELDS) {
    const value = patch[field];
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = TIME_FIELDS.has(field) ? normaliseTime(value as string) : value;
  }
  return next as unknown as AlertRecord;
}

export { PATCH_FIELDS };
