/**
 * Reads over alert records held in memory (memory and JSONL backends): the indexed map and the
 * list, dashboard, status-count and lapsed-claim reads over it. The bounds and rules they apply
 * are the domain's (alerts/query-rules.ts); the Postgres backend expresses the same reads in SQL.
 */
import { ALERT_STATUSES, type AlertRecord, type AlertStatus } from "../../subjects/index.js";
import { TimeIndex } from "../time-index.js";
import { alertState, byNewest, clampLimit, DASHBOARD_BOUNDS, LIST_BOUNDS, windowStart, withEffectiveStatus } from "../../alerts/query-rules.js";
import { effectiveStatus, type AlertDashboard, type AlertQuery } from "../../alerts/store.js";

/**
 * The memory (and JSONL) backends' alerts by alert_ref, with the indexes kept in step on every
 * `set`/`delete`/`clear`: last_seen_at (window reads walk only the window, newest first) and the
 * claimed alerts (status processing, what the work reaper looks at), and the alerts of each env
 * and service by severity and kind (what an inhibition read names). A record changed in place (a
 * counted alert's last_seen_at) is re-indexed with `track`.
 */
export class AlertMap extends Map<string, AlertRecord> {
  private readonly lastSeen = new TimeIndex();
  private readonly claimed = new Set<string>();
  /** `env\0service` → `severity\0kind` → refs. The four fields never change once stored. */
  private readonly groups = new Map<string, Map<string, Set<string>>>();

  override set(ref: string, rec: AlertRecord): this {
    const prev = super.get(ref);
    if (prev !== rec) {
      if (prev) this.ungroup(prev);
      this.group(rec);
    }
    super.set(ref, rec);
    this.track(rec);
    return this;
  }

  override delete(ref: string): boolean {
    const prev = super.get(ref);
    if (prev) this.ungroup(prev);
    this.lastSeen.delete(ref);
    this.claimed.delete(ref);
    return super.delete(ref);
  }

  override clear(): void {
    super.clear();
    this.lastSeen.clear();
    this.claimed.clear();
    this.groups.clear();
  }

  private group(rec: AlertRecord): void {
    const outer = `${rec.env}\u0000${rec.service}`;
    let inner = this.groups.get(outer);
    if (!inner) this.groups.set(outer, (inner = new Map()));
    const key = `${rec.severity}\u0000${rec.kind}`;
    let refs = inner.get(key);
    if (!refs) inner.set(key, (refs = new Set()));
    refs.add(rec.alert_ref);
  }

  private ungroup(rec: AlertRecord): void {
    const outer = `${rec.env}\u0000${rec.service}`;
    const inner = this.groups.get(outer);
    const key = `${rec.severity}\u0000${rec.kind}`;
    const refs = inner?.get(key);
    if (!inner || !refs) return;
    refs.delete(rec.alert_ref);
    if (refs.size === 0) inner.delete(key);
    if (inner.size === 0) this.groups.delete(outer);
  }

  /** The alerts of `env` and `service`, of the given severities and kinds (any when undefined); unordered. */
  *ofService(env: string, service: string, severities?: readonly string[], kinds?: readonly string[]): Generator<AlertRecord> {
    const inner = this.groups.get(`${env}\u0000${service}`);
    if (!inner) return;
    if (severities && kinds) {
      for (const s of new Set(severities)) for (const k of new Set(kinds)) for (const ref of inner.get(`${s}\u0000${k}`) ?? []) yield this.get(ref)!;
      return;
    }
    for (const refs of inner.values()) for (const ref of refs) yield this.get(ref)!;
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
    if (q.fingerprints !== undefined && !q.fingerprints.includes(rec.fingerprint)) continue;
    if (q.severity_in !== undefined && !q.severity_in.includes(rec.severity)) continue;
    if (q.kind_in !== undefined && !q.kind_in.includes(rec.kind)) continue;
    if (q.state !== undefined && alertState(rec, now) !== q.state) continue;
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
