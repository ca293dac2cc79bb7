/**
 * Rows of the Postgres alert store as records, and receipts packed as they are stored: keyed
 * receipts one row each, the ingest worker's stream receipts one batch row per stream.
 */
import type { AlertRecord } from "../../subjects/index.js";
import { iso, isoOrUndefined } from "../pg.js";
import type { StoredReceipt } from "../../alerts/ingest-plan.js";

const OPTIONAL_TEXT = ["message", "owner", "last_error", "ack_note"] as const;
const OPTIONAL_TIME = ["lock_until", "retry_at", "acked_at", "ends_at", "resolved_at"] as const;

/** A row of `alerts` as a record: NULL columns become absent fields. */
export function toRecord(row: Record<string, unknown>): AlertRecord {
  const rec: Record<string, unknown> = {
    alert_ref: row.alert_ref,
    fingerprint: row.fingerprint,
    service: row.service,
    title: row.title,
    kind: row.kind,
    severity: row.severity,
    env: row.env,
    source: row.source,
    labels: row.labels ?? {},
    meta: row.meta ?? {},
    starts_at: iso(row.starts_at),
    created_at: iso(row.created_at),
    last_seen_at: iso(row.last_seen_at),
    dedupe_until: iso(row.dedupe_until),
    occurrences: row.occurrences,
    status: row.status,
    attempts: row.attempts,
    dead: row.dead,
  };
  for (const f of OPTIONAL_TEXT) if (row[f] !== null && row[f] !== undefined) rec[f] = row[f];
  for (const f of OPTIONAL_TIME) {
    const t = isoOrUndefined(row[f]);
    if (t !== undefined) rec[f] = t;
  }
  if (row.delivery !== null && row.delivery !== undefined) rec.delivery = row.delivery;
  if (row.suppression !== null && row.suppression !== undefined) rec.suppression = row.suppression;
  return rec as unknown as AlertRecord;
}

export function toReceipt(row: Record<string, unknown>): StoredReceipt {
  return {
    receipt_key: String(row.receipt_key),
    result: {
      alert_ref: String(row.alert_ref),
      deduped: Boolean(row.deduped),
      occurrences: Number(row.occurrences),
      created: Boolean(row.created),
      replayed: false,
    },
    at: iso(row.at),
  };
}

/** `<stream>@<created>:<seq>`, as the ingest worker writes it for a single-alert message. */
const STREAM_KEY = /^([A-Za-z0-9_-]+@[0-9]+):([1-9][0-9]{0,14})$/;
/**
 * `<stream>@<created>:<seq>:<index>`, an entry of a batch message (ops.alerts.batch.*): stored as
 * a batch row of its message, `stream` = `<stream>@<created>:<seq>` and the entry indexes as its
 * sequences, so `stream || ':' || seq` is still the key. Earlier versions kept these one
 * `alert_receipts` row each, so they are looked up there as well (ENTRY_KEY_IN_OLD_TABLE).
 */
const ENTRY_KEY = /^([A-Za-z0-9_-]+@[0-9]+:[1-9][0-9]{0,14}):(0|[1-9][0-9]{0,14})$/;

export function streamKey(key: string): { stream: string; seq: number } | undefined {
  const m = STREAM_KEY.exec(key) ?? ENTRY_KEY.exec(key);
  return m ? { stream: m[1]!, seq: Number(m[2]) } : undefined;
}

/** A batch message entry's key (see ENTRY_KEY): earlier versions stored it in `alert_receipts`. */
export function isEntryKey(key: string): boolean {
  return ENTRY_KEY.test(key);
}

/** One batch row of stream receipts, as the parameters of INSERT_STREAM_RECEIPTS. */
export type StreamBatch = [string, number, number, number[], string[], boolean[], number[], boolean[]];

/** Receipts split by where they are stored: keyed ones one row each, stream ones a batch row per stream. */
export function splitReceipts(rs: StoredReceipt[]): { keyed: StoredReceipt[]; batches: StreamBatch[] } {
  const keyed: StoredReceipt[] = [];
  const batches = new Map<string, StreamBatch>();
  for (const r of rs) {
    const k = streamKey(r.receipt_key);
    if (!k) {
      keyed.push(r);
      continue;
    }
    let b = batches.get(k.stream);
    if (!b) batches.set(k.stream, (b = [k.stream, k.seq, k.seq, [], [], [], [], []]));
    if (k.seq < b[1]) b[1] = k.seq;
    if (k.seq > b[2]) b[2] = k.seq;
    b[3].push(k.seq);
    b[4].push(r.result.alert_ref);
    b[5].push(r.result.deduped);
    b[6].push(r.result.occurrences);
    b[7].push(r.result.created);
  }
  return { keyed, batches: [...batches.values()] };
}

/**
 * WRITE_INGEST's receipt parameters: keyed receipts as columns ($3..$7), every stream receipt as
 * flat columns with its stream ($8..$13, grouped into one batch row per stream by the statement),
 * and the entry keys to look for in `alert_receipts` ($14).
 */
export function ingestReceiptColumns(rs: StoredReceipt[]): { keyed: number; params: unknown[] } {
  const k: [string[], string[], boolean[], number[], boolean[]] = [[], [], [], [], []];
  const s: [string[], number[], string[], boolean[], number[], boolean[]] = [[], [], [], [], [], []];
  const entries: string[] = [];
  for (const r of rs) {
    const key = r.receipt_key;
    const m = STREAM_KEY.exec(key) ?? ENTRY_KEY.exec(key);
    const res = r.result;
    if (!m) {
      k[0].push(key);
      k[1].push(res.alert_ref);
      k[2].push(res.deduped);
      k[3].push(res.occurrences);
      k[4].push(res.created);
      continue;
    }
    s[0].push(m[1]!);
    s[1].push(Number(m[2]));
    s[2].push(res.alert_ref);
    s[3].push(res.deduped);
    s[4].push(res.occurrences);
    s[5].push(res.created);
    if (m[1]!.includes(":")) entries.push(key);
  }
  return { keyed: k[0].length, params: [...k, ...s, entries] };
}

/** Column arrays for INSERT_RECEIPTS. */
export function receiptColumns(rs: StoredReceipt[]): unknown[] {
  return [
    rs.map((r) => r.receipt_key),
    rs.map((r) => r.result.alert_ref),
    rs.map((r) => r.result.deduped),
    rs.map((r) => r.result.occurrences),
    rs.map((r) => r.result.created),
    rs.map((r) => r.at),
  ];
}

type ArrayElement = string | number | boolean | null | undefined;
const needsEscape = (s: string) => s.includes('"') || s.includes("\\");

/**
 * The Postgres array literal node-postgres would send for `values` (every element quoted, NULL
 * for null or undefined), built with one join: node-postgres appends element by element, and
 * on ingest's parameter arrays that was a quarter of everything the worker allocated.
 */
export function pgArray(values: readonly ArrayElement[]): string {
  let plain = true;
  for (const v of values) {
    if (v === null || v === undefined || (typeof v === "string" && needsEscape(v))) {
      plain = false;
      break;
    }
  }
  if (plain) return values.length ? `{"${values.join('","')}"}` : "{}";
  const parts = values.map((v) => {
    if (v === null || v === undefined) return "NULL";
    const text = String(v);
    return needsEscape(text) ? `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : `"${text}"`;
  });
  return `{${parts.join(",")}}`;
}

/** Query parameters with every array sent as a literal built by `pgArray`. */
export function withArrayLiterals(params: readonly unknown[]): unknown[] {
  return params.map((p) => (Array.isArray(p) ? pgArray(p as ArrayElement[]) : p));
}
