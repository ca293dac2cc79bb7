/**
 * The dedupe rules of `AlertStore.ingestBatch`, as one pure function every backend runs: the
 * backend supplies what it knows (stored receipts, the alert holding each fingerprint) and
 * persists what the plan says changed.
 */
import type { AlertRecord } from "../../subjects/index.js";
import { newAlertRef } from "../../ids.js";
import type { IngestItem, IngestResult } from "./types.js";

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
  const holders = new Map<string, Holder | undefined>();

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
    const holder = holders.has(fp) ? holders.get(fp) : view.holder(fp);
    let result: IngestResult;
    if (holder && Date.parse(holder.dedupe_until) > nowMs) {
      const next = { ...holder, occurrences: holder.occurrences + 1 };
      holders.set(fp, next);
      const fresh = created.get(next.alert_ref);
      if (fresh) fresh.occurrences = next.occurrences;
      else bumped.set(next.alert_ref, next.occurrences);
      result = { alert_ref: next.alert_ref, deduped: true, occurrences: next.occurrences, created: false, replayed: false };
    } else {
      const rec = newRecord(item, now, view.newRef?.(fp));
      created.set(rec.alert_ref, rec);
      holders.set(fp, { alert_ref: rec.alert_ref, dedupe_until: rec.dedupe_until, occurrences: 1 });
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
