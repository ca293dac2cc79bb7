/**
 * Reads and state changes over alert records held in memory (memory and JSONL backends), plus the
 * bounds every backend shares. The Postgres backend expresses the same rules in SQL.
 */
import { ALERT_STATUSES, type AlertRecord, type AlertStatus } from "../../subjects/index.js";
import { TimeIndex } from "../time-index.js";
import { normaliseTime } from "../../alerts/ingest-plan.js";
import {
  effectiveStatus,
  type AlertDashboard,
  type AlertQuery,
  type AlertStateGuard,
  type AlertStatePatch,
} from "../../alerts/store.js";

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

/**
 * The memory (and JSONL) backends' alerts by alert_ref, with the indexes kept in step on every
 * `set`/`delete`/`clear`: last_seen_at (window reads walk only the window, newest first) and the
 * claimed alerts (status processing, what the work reaper looks at). A record changed in place
 * (a counted alert's last_seen_at) is re-indexed with `track`.
 */
export class AlertMap extends Map<string, AlertRecord> {
  private readonly lastSeen = new TimeIndex();
  private readonly claimed = new Set<string>();

  override set(ref: string, rec: AlertRecord): this {
    super.set(ref, rec);
    this.track(rec);
    return this;
  }

  override delete(ref: string): boolean {
    this.lastSeen.delete(ref);
    this.claimed.delete(ref);
    return super.delete(ref);
  }

  override clear(): void {
    super.clear();
    this.lastSeen.clear();
    this.claimed.clear();
  }

  track(rec: AlertRecord): void {
    this.lastSeen.set(rec.alert_ref, Date.parse(rec.last_seen_at));
    if (rec.status === "processing") this.claimed.add(rec.alert_ref);
    else this.claimed.delete(rec.alert_ref);
  }

  /** Alerts last seen at or after `sinceMs`, newest first (ties by alert_ref descending, as `byNewest`). */
  *seenSince(sinceMs: number): Generator<AlertRecord> {
    for (const ref of this.lastSeen.newestFirst(sinceMs)) yield this.get(ref)!;
  }

  /** Stored records with status processing (a claim, lapsed or not). */
  *claims(): Generator<AlertRecord> {
    for (const ref of this.claimed) yield this.get(ref)!;
  }
}

/** Counts by effective status of alerts last seen in the window (newest-first input from `seenSince`). */
export function statusCountsOf(inWindow: Iterable<AlertRecord>, now: Date): Record<AlertStatus, number> {
  const counts = Object.fromEntries(ALERT_STATUSES.map((s) => [s, 0])) as Record<AlertStatus, number>;
  for (const rec of inWindow) counts[effectiveStatus(rec, now)]++;
  return counts;
}

/** Claims whose lock lapsed by `now` on delivery `minDeliveries` or later, oldest lock first. */
export function lapsedClaimsOf(claims: Iterable<AlertRecord>, now: Date, minDeliveries: number, limit: number): AlertRecord[] {
  const out: AlertRecord[] = [];
  for (const a of claims) {
    const lapsed = a.lock_until !== undefined && Date.parse(a.lock_until) <= now.getTime();
    if (a.status === "processing" && !a.dead && lapsed && a.delivery && a.delivery.delivery_count >= minDeliveries) out.push(a);
  }
  const lock = (a: AlertRecord) => Date.parse(a.lock_until!);
  return out.sort((a, b) => lock(a) - lock(b) || (a.alert_ref < b.alert_ref ? -1 : a.alert_ref > b.alert_ref ? 1 : 0)).slice(0, limit);
}

/** `ordered`: `all` already comes newest first (AlertMap.seenSince), so the read stops at the limit. */
export function listRecords(all: Iterable<AlertRecord>, q: AlertQuery, now: Date, ordered = false): AlertRecord[] {
  const since = windowStart(q.window_minutes, now);
  const limit = clampLimit(q.limit, LIST_BOUNDS.defaultLimit, LIST_BOUNDS.maxLimit);
  const out: AlertRecord[] = [];
  if (ordered && limit === 0) return out;
  for (const rec of all) {
    if (Date.parse(rec.last_seen_at) < since) continue;
    if (q.env !== undefined && rec.env !== q.env) continue;
    if (q.service !== undefined && rec.service !== q.service) continue;
    if (q.source !== undefined && rec.source !== q.source) continue;
    if (q.fingerprint !== undefined && rec.fingerprint !== q.fingerprint) continue;
    const shown = withEffectiveStatus(rec, now);
    if (q.status_in && !q.status_in.includes(shown.status)) continue;
    out.push(shown);
    if (ordered && out.length >= limit) return out;
  }
  return out.sort(byNewest).slice(0, limit);
}

export function dashboardOf(all: Iterable<AlertRecord>, windowMinutes: number, now: Date, latest?: number): AlertDashboard {
  const since = windowStart(windowMinutes, now);
  const counts = Object.fromEntries(ALERT_STATUSES.map((s) => [s, 0])) as Record<AlertStatus, number>;
  const inWindow: AlertRecord[] = [];
  for (const rec of all) {
    if (Date.parse(rec.last_seen_at) < since) continue;
    const shown = withEffectiveStatus(rec, now);
    counts[shown.status]++;
    inWindow.push(shown);
  }
  inWindow.sort(byNewest);
  const sigs = new Map<string, AlertDashboard["top_signatures"][number]>();
  for (const rec of inWindow) {
    const sig = sigs.get(rec.fingerprint);
    if (sig) {
      sig.alerts++;
      sig.occurrences += rec.occurrences;
    } else {
      // The newest alert of the fingerprint names it (inWindow is newest first).
      const { fingerprint, service, kind, title, occurrences } = rec;
      sigs.set(fingerprint, { fingerprint, service, kind, title, alerts: 1, occurrences });
    }
  }
  const top = [...sigs.values()]
    .sort((a, b) => b.occurrences - a.occurrences || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0))
    .slice(0, DASHBOARD_BOUNDS.topSignatures);
  const n = clampLimit(latest, DASHBOARD_BOUNDS.defaultLatest, DASHBOARD_BOUNDS.maxLatest);
  return { window_minutes: windowMinutes, counts_by_status: counts, top_signatures: top, latest: inWindow.slice(0, n) };
}

/** The guard holds when the status matches and no newer delivery than the caller's was recorded. */
export function guardHolds(rec: AlertRecord, guard: AlertStateGuard): boolean {
  if (guard.status !== undefined && rec.status !== guard.status) return false;
  if (guard.delivery_count !== undefined && rec.delivery && rec.delivery.delivery_count > guard.delivery_count) return false;
  return true;
}

const PATCH_FIELDS = [
  "status", "owner", "lock_until", "attempts", "last_error", "retry_at", "dead", "ack_note", "acked_at", "delivery",
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
