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
 * sequences, so `stream || ':' || seq` is still the key (earlier versions' rows of one key each
 * were moved there by migration 015).
 */
const ENTRY_KEY = /^([A-Za-z0-9_-]+@[0-9]+:[1-9][0-9]{0,14}):(0|[1-9][0-9]{0,14})$/;

export function streamKey(key: string): { stream: string; seq: number } | undefined {
  const m = STREAM_KEY.exec(key) ?? ENTRY_KEY.exec(key);
  return m ? { stream: m[1]!, seq: Number(m[2]) } : undefined;
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

/** The part of a stream key before its sequence, and of an entry key before its index (see STREAM_KEY, ENTRY_KEY). */
const STREAM_KEY_HEAD = /^[A-Za-z0-9_-]+@[0-9]+$/;
const ENTRY_KEY_HEAD = /^[A-Za-z0-9_-]+@[0-9]+:[1-9][0-9]{0,14}$/;
const SEQ = /^[1-9][0-9]{0,14}$/;
const INDEX = /^(0|[1-9][0-9]{0,14})$/;
type KeyHead = "stream" | "entry" | "none";

/** One stream's receipts, in the order given. */
interface StreamReceipts {
  lo: number;
  hi: number;
  seqs: number[];
  alert_refs: string[];
  deduped: boolean[];
  occurrences: number[];
  created: boolean[];
}

/**
 * WRITE_INGEST's receipt parameters: keyed receipts as columns ($3..$7); stream receipts as one
 * row per stream ($8..$12: stream, lo, hi and the 1-based slice [first, last] of the columns
 * $13..$17 holding its sequences and results, grouped by stream, each in the order given).
 * Grouped here, the statement slices arrays instead of sorting and aggregating a row per receipt.
 * A key is read as `streamKey` reads it (what precedes its last `:`, checked once per call, then the number).
 */
export function ingestReceiptColumns(rs: StoredReceipt[]): { keyed: number; params: unknown[] } {
  const k: [string[], string[], boolean[], number[], boolean[]] = [[], [], [], [], []];
  const streams = new Map<string, StreamReceipts>();
  const heads = new Map<string, KeyHead>();
  for (const r of rs) {
    const key = r.receipt_key;
    const res = r.result;
    const colon = key.lastIndexOf(":");
    const head = colon < 0 ? "" : key.slice(0, colon);
    let kind = heads.get(head);
    if (kind === undefined) heads.set(head, (kind = STREAM_KEY_HEAD.test(head) ? "stream" : ENTRY_KEY_HEAD.test(head) ? "entry" : "none"));
    const tail = key.slice(colon + 1);
    if (kind === "none" || !(kind === "stream" ? SEQ : INDEX).test(tail)) {
      k[0].push(key);
      k[1].push(res.alert_ref);
      k[2].push(res.deduped);
      k[3].push(res.occurrences);
      k[4].push(res.created);
      continue;
    }
    const seq = Number(tail);
    let s = streams.get(head);
    if (!s) streams.set(head, (s = { lo: seq, hi: seq, seqs: [], alert_refs: [], deduped: [], occurrences: [], created: [] }));
    if (seq < s.lo) s.lo = seq;
    if (seq > s.hi) s.hi = seq;
    s.seqs.push(seq);
    s.alert_refs.push(res.alert_ref);
    s.deduped.push(res.deduped);
    s.occurrences.push(res.occurrences);
    s.created.push(res.created);
  }
  const rows: [string[], number[], number[], number[], number[]] = [[], [], [], [], []];
  const flat: [number[], string[], boolean[], number[], boolean[]] = [[], [], [], [], []];
  for (const [stream, s] of streams) {
    rows[0].push(stream);
    rows[1].push(s.lo);
    rows[2].push(s.hi);
    rows[3].push(flat[0].length + 1);
    rows[4].push(flat[0].length + s.seqs.length);
    flat[0].push(...s.seqs);
    flat[1].push(...s.alert_refs);
    flat[2].push(...s.deduped);
    flat[3].push(...s.occurrences);
    flat[4].push(...s.created);
  }
  return { keyed: k[0].length, params: [...k, ...rows, ...flat] };
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
