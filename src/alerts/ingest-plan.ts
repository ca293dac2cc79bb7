/**
 * The dedupe rules of `AlertStore.ingestBatch`, as one pure function every backend runs: the
 * backend supplies what it knows (stored receipts, the alert holding each fingerprint) and
 * persists what the plan says changed.
 */
import type { AlertRecord } from "../subjects/index.js";
import { newAlertRef } from "../ids.js";
import type { IngestItem, IngestResult } from "./store.js";

export interface StoredReceipt {
  receipt_key: string;
  result: IngestResult;
  at: string;
}

/** The alert currently holding a fingerprint, as far as dedupe needs it. */
export interface Holder {
  alert_ref: string;
  dedupe_until: string;
  occurrences: number;
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
  /** Existing alerts that were counted: their new occurrences; last_seen_at becomes `now`. */
  bumped: Array<{ alert_ref: string; occurrences: number }>;
  /** Receipts to record (first results, `replayed: false`). */
  receipts: StoredReceipt[];
  now: string;
}

/** ISO form when the text is a valid timestamp, so every backend stores the same string. */
export function normaliseTime(value: string): string {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
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
  return rec;
}

/**
 * Items in order: a known receipt key replays its first result; a fingerprint held by an alert
 * whose dedupe window is still open counts there; anything else opens a new alert.
 */
export function planIngest(items: IngestItem[], now: Date, view: IngestView): IngestPlan {
  const at = now.toISOString();
  const nowMs = now.getTime();
  const results: IngestResult[] = [];
  const created = new Map<string, AlertRecord>();
  const bumped = new Map<string, number>();
  const receipts: StoredReceipt[] = [];
  const batchReceipts = new Map<string, IngestResult>();
  // Per fingerprint, once looked up: the alert counting it (null: none open), counted in place.
  const live = new Map<string, { alert_ref: string; occurrences: number; fresh?: AlertRecord } | null>();

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
      holder = h && Date.parse(h.dedupe_until) > nowMs ? { alert_ref: h.alert_ref, occurrences: h.occurrences } : null;
      live.set(fp, holder);
    }
    let result: IngestResult;
    if (holder) {
      const n = ++holder.occurrences;
      if (holder.fresh) holder.fresh.occurrences = n;
      else bumped.set(holder.alert_ref, n);
      result = { alert_ref: holder.alert_ref, deduped: true, occurrences: n, created: false, replayed: false };
    } else {
      const rec = newRecord(item, now, view.newRef?.(fp));
      created.set(rec.alert_ref, rec);
      // A window that ends at once (a TTL under a millisecond) counts nothing more.
      live.set(fp, Date.parse(rec.dedupe_until) > nowMs ? { alert_ref: rec.alert_ref, occurrences: 1, fresh: rec } : null);
      result = { alert_ref: rec.alert_ref, deduped: false, occurrences: 1, created: true, replayed: false };
    }
    results.push(result);
    if (key !== undefined) {
      batchReceipts.set(key, result);
      // Its own copy: the result returned to the caller must not alias stored state.
      receipts.push({ receipt_key: key, result: { ...result }, at });
    }
  }
  return {
    results,
    created: [...created.values()],
    bumped: [...bumped].map(([alert_ref, occurrences]) => ({ alert_ref, occurrences })),
    receipts,
    now: at,
  };
}
