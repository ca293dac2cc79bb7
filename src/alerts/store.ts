import type { AlertDelivery, AlertRecord, AlertStatus, AlertSuppression } from "../subjects/index.js";
import type { BaseStore, Replayable } from "../util/store-port.js";

/** A validated, normalised alert before dedupe: the stored record's own fields, no state yet. */
export type NewAlert = Pick<AlertRecord, "fingerprint" | "service" | "title" | "kind" | "severity" | "env" | "source" | "message" | "labels" | "meta" | "starts_at">;

export interface IngestItem {
  /**
   * Idempotency key (e.g. `OPS_ALERTS@<created>:<stream seq>`). An item whose key was already
   * ingested, in an earlier call or earlier in this batch, changes nothing and returns the first
   * result with `replayed: true`. Absent: the item is always counted.
   */
  receipt_key?: string;
  alert: NewAlert;
  dedupe_ttl_minutes: number;
  /** A resolve (`status: "resolved"`): ends the alert holding the fingerprint; absent: a firing. */
  resolve?: true;
  /** The sender's `ends_at`, else the sighting plus `resolve_timeout_minutes`; absent: fires until resolved (PagerDuty's). */
  ends_at?: string;
  /**
   * The sender gave `starts_at`: a firing with the stored one is a re-send (refresh, not an
   * occurrence), for as long as its alert fires, past the dedupe window too.
   */
  explicit_start?: true;
  /**
   * Joins the firing it finds, whatever its start, for as long as that fires (a refresh; the
   * earlier start kept): an Alertmanager alert, as Alertmanager merges overlapping firings of a
   * label set, or a PagerDuty trigger, whose dedup_key dedupes while the alert is open.
   */
  joins_firing?: true;
  /**
   * Alertmanager's merge of overlapping firings, for an HA pair's replicas that evaluate at
   * different moments: a firing that started before its sender resolved its alert, arriving at most
   * this many ms after the resolve, continues that firing (a refresh: not counted, no new work); a
   * resolve that ended before its alert's firing started ended an earlier firing and changes nothing.
   * An alert the resolve sweep or a person resolved fires again as before (counted, new work).
   */
  merges_overlap_ms?: number;
}

export interface IngestResult {
  alert_ref: string;
  /** True when counted on an existing alert (same fingerprint, inside its dedupe window). */
  deduped: boolean;
  /** The alert's occurrences right after this item was counted. */
  occurrences: number;
  /** True when this item opened the alert (and so opens work). */
  created: boolean;
  replayed: boolean;
  /**
   * Lifecycle: "refresh" a re-send of the same firing (not counted); "refire" a firing after the
   * alert was resolved (counted, new work); "resolved" a resolve that ended it; "unknown" a
   * resolve for no stored alert (`alert_ref` empty); "noop" a resolve of an alert already resolved,
   * or of a firing before the one it holds (`merges_overlap_ms`).
   */
  lifecycle?: "refresh" | "refire" | "resolved" | "unknown" | "noop";
}

export interface AlertQuery {
  /** Alerts last seen within this many minutes of `now`. Default 240. */
  window_minutes?: number;
  env?: string;
  service?: string;
  source?: string;
  fingerprint?: string;
  /** Only alerts with one of these fingerprints. */
  fingerprints?: string[];
  /** Matches the effective status (see `effectiveStatus`). */
  status_in?: AlertStatus[];
  /** Matches `alertState` (resolved: `resolved_at` set or `ends_at` passed). */
  state?: "firing" | "resolved";
  /** Only alerts of one of these (normalised) severities. */
  severity_in?: string[];
  /** Only alerts of one of these kinds. */
  kind_in?: string[];
  /** Default 50, at most 500. Newest `last_seen_at` first. */
  limit?: number;
}

/** Fields a state change may set; `null` clears a field. */
export interface AlertStatePatch {
  status?: AlertStatus;
  owner?: string | null;
  lock_until?: string | null;
  attempts?: number;
  last_error?: string | null;
  retry_at?: string | null;
  dead?: boolean;
  ack_note?: string | null;
  acked_at?: string | null;
  delivery?: AlertDelivery | null;
  suppression?: AlertSuppression | null;
}

/** Compare-and-set guard: the update applies only when the stored alert still matches. */
export interface AlertStateGuard {
  status?: AlertStatus;
  /** The delivery the caller holds; a newer delivery means the caller's claim is stale. */
  delivery_count?: number;
}

export interface AlertDashboard {
  window_minutes: number;
  counts_by_status: Record<AlertStatus, number>;
  /** Fingerprints with the most occurrences in the window. */
  top_signatures: Array<{ fingerprint: string; service: string; kind: string; title: string; alerts: number; occurrences: number }>;
  latest: AlertRecord[];
}

export type AlertRow =
  | { kind: "alert"; data: AlertRecord }
  | { kind: "receipt"; data: { receipt_key: string; result: IngestResult; at: string } };

export interface AlertStore extends BaseStore, Replayable<AlertRow> {
  /** Dedupe and persist, atomically per call; results in input order. */
  ingestBatch(items: IngestItem[], now: Date): Promise<IngestResult[]>;
  get(alertRef: string): Promise<AlertRecord | null>;
  getMany(alertRefs: string[]): Promise<AlertRecord[]>;
  list(query: AlertQuery, now: Date): Promise<AlertRecord[]>;
  /** Applies `patch` if the alert exists and matches `guard`; returns the updated alert, else null. */
  updateState(alertRef: string, guard: AlertStateGuard, patch: AlertStatePatch): Promise<AlertRecord | null>;
  /** Unguarded patches for many alerts in one step (a worker settling a batch); returns how many existed. */
  updateStates(items: Array<{ alert_ref: string; patch: AlertStatePatch }>): Promise<number>;
  dashboard(windowMinutes: number, now: Date, latest?: number): Promise<AlertDashboard>;
  /** The dashboard's counts by effective status alone, over alerts last seen in the window (an indexed read: monitor status). */
  statusCounts(windowMinutes: number, now: Date): Promise<Record<AlertStatus, number>>;
  /**
   * Claims (status processing, not dead) whose lock lapsed by `now` on delivery `minDeliveries` or
   * later, oldest lock first: the work reaper's input, read from the claims alone, not every alert.
   */
  lapsedClaims(now: Date, minDeliveries: number, limit: number): Promise<AlertRecord[]>;
  /**
   * Marks up to `limit` alerts whose `ends_at` passed by `now` and that are not resolved as
   * resolved at their `ends_at`, each by exactly one caller cluster-wide; returns those it marked.
   */
  resolveExpired(now: Date, limit: number): Promise<AlertRecord[]>;
  /** Marks one alert resolved at `now` unless it already is; returns it when this call resolved it. */
  resolve(alertRef: string, now: Date): Promise<AlertRecord | null>;
  /** Deletes alerts last seen before `cutoff` and receipts older than it; returns alerts deleted. */
  purgeOlderThan(cutoff: Date): Promise<number>;
}

/**
 * The status a reader should see: a claim whose lock expired is `new` again (JetStream redelivers
 * it), and a failed alert past its retry time is `new` unless it is dead.
 */
export function effectiveStatus(a: Pick<AlertRecord, "status" | "lock_until" | "retry_at" | "dead">, now: Date): AlertStatus {
  if (a.status === "processing" && a.lock_until && Date.parse(a.lock_until) <= now.getTime()) return "new";
  if (a.status === "failed" && !a.dead && a.retry_at && Date.parse(a.retry_at) <= now.getTime()) return "new";
  return a.status;
}

/** Keep the later version of an alert: later last_seen_at, then more occurrences. */
export function isNewer(candidate: AlertRecord, current: AlertRecord | undefined): boolean {
  if (!current) return true;
  const d = Date.parse(candidate.last_seen_at) - Date.parse(current.last_seen_at);
  return d > 0 || (d === 0 && candidate.occurrences > current.occurrences);
}
