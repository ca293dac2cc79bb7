/**
 * The dedupe rules of `AlertStore.ingestBatch`, as one pure function every backend runs: the
 * backend supplies what it knows (stored receipts, the alert holding each fingerprint) and
 * persists what the plan says changed.
 */
import type { AlertRecord } from "../subjects/index.js";
import { newAlertRef } from "../ids.js";
import type { IngestItem, IngestResult } from "./store.js";
import { isCanonicalIso, isoTimeMs, normaliseTime } from "../util/iso-time.js";

export interface StoredReceipt {
  receipt_key: string;
  result: IngestResult;
  at: string;
}

/**
 * The alert currently holding a fingerprint, as far as dedupe needs it. A backend that reads times
 * as epoch ms gives them so (`until_ms`, `starts_ms`, `ends_ms`): the plan compares them as
 * numbers and never formats or parses text for them.
 */
export type Holder = HolderCommon & ({ dedupe_until: string; until_ms?: number } | { dedupe_until?: string; until_ms: number });
interface HolderCommon {
  alert_ref: string;
  occurrences: number;
  /** The stored start, as text or as epoch ms (`starts_ms`, which wins when both are given). */
  starts_at?: string;
  starts_ms?: number;
  ends_at?: string;
  /** `ends_at` as epoch ms (only with `ends_at`). */
  ends_ms?: number;
  resolved_at?: string;
  /** The last sighting, as text or as epoch ms (`last_seen_ms` wins): with `resolved_at`, who ended it. */
  last_seen_at?: string;
  last_seen_ms?: number;
}

/**
 * A change to a stored alert: its count (which only grows), `last_seen_at` = the plan's `now`,
 * and lifecycle fields (`null` clears `resolved_at`); `reset_work` (a refire): its work state
 * starts over (status new, no claim, attempts 0) for the new work item.
 */
export interface AlertBump {
  alert_ref: string;
  occurrences: number;
  ends_at?: string;
  starts_at?: string;
  resolved_at?: string | null;
  reset_work?: true;
}

export interface IngestView {
  /** The stored first result for a key, if it was ingested before this call. */
  receipt(key: string): IngestResult | undefined;
  holder(fingerprint: string): Holder | undefined;
  /** The ref a new alert for this fingerprint gets, when the backend chose it beforehand. */
  newRef?(fingerprint: string): string | undefined;
}

export interface IngestPlan {
  results: IngestResult[];
  /** New alerts in their final state after the whole batch. */
  created: AlertRecord[];
  /** Existing alerts that were counted, refreshed or resolved (see AlertBump). */
  bumped: AlertBump[];
  /** Receipts to record (first results, `replayed: false`). */
  receipts: StoredReceipt[];
  now: string;
}

export function newRecord(item: IngestItem, now: Date, ref: string = newAlertRef(now)): AlertRecord {
  const a = item.alert;
  const at = now.toISOString();
  const rec: AlertRecord = {
    alert_ref: ref,
    fingerprint: a.fingerprint,
    service: a.service,
    title: a.title,
    kind: a.kind,
    severity: a.severity,
    env: a.env,
    source: a.source,
    labels: a.labels,
    meta: a.meta,
    starts_at: normaliseTime(a.starts_at),
    created_at: at,
    last_seen_at: at,
    dedupe_until: new Date(now.getTime() + item.dedupe_ttl_minutes * 60_000).toISOString(),
    occurrences: 1,
    status: "new",
    attempts: 0,
    dead: false,
  };
  if (a.message !== undefined) rec.message = a.message;
  if (item.ends_at !== undefined) rec.ends_at = normaliseTime(item.ends_at);
  return rec;
}

/** `"resolved"` when `resolved_at` is set or `ends_at` has passed, else `"firing"`. */
export function isResolved(a: { ends_at?: string | undefined; resolved_at?: string | undefined }, nowMs: number): boolean {
  return a.resolved_at !== undefined || (a.ends_at !== undefined && Date.parse(a.ends_at) <= nowMs);
}

/** The alert a fingerprint names during a plan, changed in place as items count on it. */
interface Live {
  alert_ref: string;
  occurrences: number;
  starts_at?: string | undefined;
  /** The stored start as epoch ms, instead of `starts_at`, until a refire sets `starts_at`. */
  starts_ms?: number | undefined;
  ends_at?: string | undefined;
  resolved_at?: string | undefined;
  /** Its sender resolved it (not the resolve sweep, nor a person): late news of its firing is merged (`continuesEnded`). */
  senderResolved?: boolean;
  /** The dedupe window is open: a firing counts here. */
  open: boolean;
  fresh?: AlertRecord;
  bump?: AlertBump;
  /** `ends_at` parsed, for as long as `ends_at` is this text. */
  endsParsed?: { iso: string; ms: number };
}

/** `isResolved` for a live alert, parsing its `ends_at` once however many items ask. */
function liveResolved(l: Live, nowMs: number): boolean {
  if (l.resolved_at !== undefined) return true;
  if (l.ends_at === undefined) return false;
  if (l.endsParsed?.iso !== l.ends_at) l.endsParsed = { iso: l.ends_at, ms: Date.parse(l.ends_at) };
  return l.endsParsed.ms <= nowMs;
}

/** Two times name the same instant; two in toISOString's form do exactly when they are the same text. */
const sameTime = (a: string | undefined, b: string) =>
  a !== undefined && (a === b || (!(isCanonicalIso(a) && isCanonicalIso(b)) && Date.parse(a) === Date.parse(b)));

/** `sameTime(l's start, b)`, on the epoch ms when the backend gave the start so. */
function sameStart(l: Live, b: string): boolean {
  if (l.starts_ms === undefined) return sameTime(l.starts_at, b);
  return isoTimeMs(b) === l.starts_ms;
}

/** A re-send of the firing `l` holds: the stored `starts_at` again, or an item that joins whatever fires. */
const resendOf = (item: IngestItem, l: Live): boolean => item.joins_firing === true || (item.explicit_start === true && sameStart(l, item.alert.starts_at));

/** A firing that joins its alert with an earlier start moves the start there, as Alertmanager's merge keeps the earliest. */
function keepEarlierStart(l: Live, b: AlertBump, item: IngestItem): void {
  if (!item.explicit_start) return;
  const stored = l.starts_ms ?? (l.starts_at === undefined ? Number.NaN : isoTimeMs(l.starts_at));
  if (!(isoTimeMs(item.alert.starts_at) < stored)) return;
  b.starts_at = l.starts_at = normaliseTime(item.alert.starts_at);
  l.starts_ms = undefined;
}

/** `l`'s start as epoch ms (NaN when it has none). */
const startMs = (l: Live): number => l.starts_ms ?? (l.starts_at === undefined ? Number.NaN : isoTimeMs(l.starts_at));

/**
 * A firing that started before its alert's end, arriving within `merges_overlap_ms` of it: late
 * news of the firing that ended (an HA pair's replica that evaluates later), which continues it.
 */
function continuesEnded(item: IngestItem, l: Live, nowMs: number): boolean {
  if (item.merges_overlap_ms === undefined || !item.explicit_start || !l.senderResolved || l.resolved_at === undefined) return false;
  const endedMs = isoTimeMs(l.resolved_at);
  return isoTimeMs(item.alert.starts_at) < endedMs && nowMs - endedMs < item.merges_overlap_ms;
}

/**
 * A stored alert its sender resolved: the resolve was a sighting (`last_seen_at` its processing
 * time, at or after `resolved_at`). The sweep resolves at `ends_at`, after the last sighting, and
 * `alert_ingest_tool.resolve` records none.
 */
function resolvedBySender(h: Holder): boolean {
  if (h.resolved_at === undefined) return false;
  const seen = h.last_seen_ms ?? (h.last_seen_at === undefined ? Number.NaN : isoTimeMs(h.last_seen_at));
  return seen >= isoTimeMs(h.resolved_at);
}

/** A resolve that ended before the firing `l` holds started: it ended an earlier firing. */
const endedEarlier = (item: IngestItem, l: Live, endsAt: string | undefined): boolean =>
  item.merges_overlap_ms !== undefined && endsAt !== undefined && isoTimeMs(endsAt) < startMs(l);

/**
 * Items in order: a known receipt key replays its first result. A resolve ends the alert holding
 * the fingerprint (unknown: recorded, harmless). A firing on an alert whose dedupe window is open:
 * after a resolve it fires again (counted, new work); a re-send (`resendOf`) is refreshed, not
 * counted; else it counts there. A re-send joins its alert past the window too, for as long as
 * that fires: a firing re-sent for hours is one alert. Late news of an Alertmanager firing
 * (`merges_overlap_ms`) continues the firing that ended; a resolve of an earlier firing changes
 * nothing. Anything else opens a new alert.
 */
export function planIngest(items: IngestItem[], now: Date, view: IngestView): IngestPlan {
  const at = now.toISOString();
  const nowMs = now.getTime();
  const results: IngestResult[] = [];
  const created = new Map<string, AlertRecord>();
  const bumped = new Map<string, AlertBump>();
  const receipts: StoredReceipt[] = [];
  const batchReceipts = new Map<string, IngestResult>();
  // Per fingerprint, once looked up: the alert it names (null: none).
  const live = new Map<string, Live | null>();
  const bumpOf = (l: Live): AlertBump => {
    if (l.fresh) return { alert_ref: l.alert_ref, occurrences: 0 };
    let b = bumped.get(l.alert_ref);
    if (!b) bumped.set(l.alert_ref, (b = { alert_ref: l.alert_ref, occurrences: l.occurrences }));
    return b;
  };
  const sync = (l: Live, b: AlertBump) => {
    if (l.fresh) {
      const r = l.fresh;
      r.occurrences = l.occurrences;
      if (l.starts_at !== undefined) r.starts_at = l.starts_at;
      if (l.ends_at !== undefined) r.ends_at = l.ends_at;
      if (l.resolved_at !== undefined) r.resolved_at = l.resolved_at;
      else delete r.resolved_at;
      return;
    }
    b.occurrences = l.occurrences;
  };

  for (const item of items) {
    const key = item.receipt_key;
    if (key !== undefined) {
      const first = batchReceipts.get(key) ?? view.receipt(key);
      if (first) {
        results.push({ ...first, replayed: true });
        continue;
      }
    }
    const fp = item.alert.fingerprint;
    let holder = live.get(fp);
    if (holder === undefined) {
      const h = view.holder(fp);
      holder = h
        ? {
            alert_ref: h.alert_ref,
            occurrences: h.occurrences,
            starts_at: h.starts_at,
            starts_ms: h.starts_ms,
            ends_at: h.ends_at,
            resolved_at: h.resolved_at,
            senderResolved: resolvedBySender(h),
            open: (h.until_ms ?? Date.parse(h.dedupe_until!)) > nowMs,
          }
        : null;
      if (holder && h?.ends_at !== undefined && h.ends_ms !== undefined) holder.endsParsed = { iso: h.ends_at, ms: h.ends_ms };
      live.set(fp, holder);
    }
    const endsAt = item.ends_at === undefined ? undefined : normaliseTime(item.ends_at);
    const continues = !item.resolve && holder !== null && continuesEnded(item, holder, nowMs);
    let result: IngestResult;
    if (item.resolve) {
      if (!holder) result = { alert_ref: "", deduped: false, occurrences: 0, created: false, replayed: false, lifecycle: "unknown" };
      else if (holder.resolved_at !== undefined || endedEarlier(item, holder, endsAt)) {
        result = { alert_ref: holder.alert_ref, deduped: true, occurrences: holder.occurrences, created: false, replayed: false, lifecycle: "noop" };
      } else {
        // Resolved when the sender says it ended (Prometheus's endsAt), at the latest now.
        const when = endsAt !== undefined && Date.parse(endsAt) <= nowMs ? endsAt : at;
        holder.resolved_at = when;
        holder.senderResolved = true;
        if (holder.ends_at === undefined || Date.parse(holder.ends_at) > Date.parse(when)) holder.ends_at = when;
        const b = bumpOf(holder);
        b.resolved_at = holder.resolved_at;
        b.ends_at = holder.ends_at;
        sync(holder, b);
        result = { alert_ref: holder.alert_ref, deduped: true, occurrences: holder.occurrences, created: false, replayed: false, lifecycle: "resolved" };
      }
    } else if (holder && (continues || holder.open || (!liveResolved(holder, nowMs) && resendOf(item, holder)))) {
      const b = bumpOf(holder);
      let lifecycle: IngestResult["lifecycle"];
      if (continues) {
        lifecycle = "refresh";
        holder.resolved_at = undefined;
        b.resolved_at = null;
        keepEarlierStart(holder, b, item);
      } else if (liveResolved(holder, nowMs)) {
        lifecycle = "refire";
        holder.occurrences++;
        holder.resolved_at = undefined;
        holder.starts_at = normaliseTime(item.alert.starts_at);
        holder.starts_ms = undefined;
        b.resolved_at = null;
        b.starts_at = holder.starts_at;
        b.reset_work = true;
      } else if (resendOf(item, holder)) {
        lifecycle = "refresh";
        keepEarlierStart(holder, b, item);
      } else {
        holder.occurrences++;
      }
      if (endsAt !== undefined) b.ends_at = holder.ends_at = endsAt;
      sync(holder, b);
      result = { alert_ref: holder.alert_ref, deduped: true, occurrences: holder.occurrences, created: false, replayed: false };
      if (lifecycle) result.lifecycle = lifecycle;
    } else {
      const rec = newRecord(item, now, view.newRef?.(fp));
      created.set(rec.alert_ref, rec);
      // A window that ends at once (a TTL under a millisecond) counts nothing more.
      live.set(fp, { alert_ref: rec.alert_ref, occurrences: 1, starts_at: rec.starts_at, ends_at: rec.ends_at, open: Date.parse(rec.dedupe_until) > nowMs, fresh: rec });
      result = { alert_ref: rec.alert_ref, deduped: false, occurrences: 1, created: true, replayed: false };
    }
    results.push(result);
    if (key !== undefined) {
      batchReceipts.set(key, result);
      // Its own copy: the result returned to the caller must not alias stored state.
      receipts.push({ receipt_key: key, result: { ...result }, at });
    }
  }
  return { results, created: [...created.values()], bumped: [...bumped.values()], receipts, now: at };
}
