/**
 * Alerts in memory, persisted to a JSONL file read back on init. An ingest appends one line for
 * the whole batch (`{kind:"batch"}`: its new alerts, the counts of the alerts it bumped, its
 * receipts), so a batch is on disk entirely or not at all and costs one small JSON value instead
 * of a full record per counted alert and a line per receipt. Other changes append the full record
 * (`{kind:"alert",data}`). A compaction writes every alert as a full record and the receipts in
 * chunks (`{kind:"receipts"}`); receipts older than a day are dropped then. Lines of the earlier
 * one-row-per-line format (`{kind:"receipt"}`) still load. One process per file (see JsonlLog).
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../../log.js";
import type { AlertRecord } from "../../subjects/index.js";
import { JsonlLog } from "../jsonl.js";
import type { AlertBump, IngestPlan, StoredReceipt } from "../../alerts/ingest-plan.js";
import { MemoryAlertStore } from "./memory.js";
import type { AlertRow } from "../../alerts/store.js";

export interface JsonlAlertStoreOptions {
  path: string;
  logger?: Logger;
  /** Receipts older than this are not kept through a compaction. Default 24 h. */
  receiptTtlMs?: number;
  minDeadLines?: number;
}

export const RECEIPT_TTL_MS = 24 * 60 * 60 * 1000;
/** Receipts per `receipts` line in a compacted file. */
const RECEIPTS_PER_LINE = 1000;

/** receipt_key, alert_ref, deduped, occurrences, created, at. */
type ReceiptTuple = [string, string, boolean, number, boolean, string];

/** A line of the file: a replay row, an ingest batch, or a chunk of receipts. */
export type AlertLine =
  | AlertRow
  | {
      kind: "batch";
      id: string;
      at: string;
      created: AlertRecord[];
      /** alert_ref, occurrences after the batch (last_seen_at = at), lifecycle changes if any. */
      bumped: Array<[string, number] | [string, number, Omit<AlertBump, "alert_ref" | "occurrences">]>;
      /** receipt_key, alert_ref, deduped, occurrences, created (at = at). */
      receipts: Array<[string, string, boolean, number, boolean]>;
    }
  | { kind: "receipts"; id: string; data: ReceiptTuple[] };

export function alertRowKey(row: AlertLine): string {
  switch (row.kind) {
    case "alert":
      return `alert:${row.data.alert_ref}`;
    case "receipt":
      return `receipt:${row.data.receipt_key}`;
    default:
      return `${row.kind}:${row.id}`;
  }
}

/** Line ids only have to be unique within a file, across restarts too. */
const lineIdPrefix = randomBytes(6).toString("hex");
let lineCount = 0;
const lineId = () => `${lineIdPrefix}.${(lineCount++).toString(36)}`;

const receiptOf = (key: string, ref: string, deduped: boolean, occurrences: number, created: boolean, at: string): StoredReceipt => ({
  receipt_key: key,
  result: { alert_ref: ref, deduped, occurrences, created, replayed: false },
  at,
});

export class JsonlAlertStore extends MemoryAlertStore {
  override readonly backendName: string = "JsonlAlertStore";
  private readonly log: JsonlLog<AlertLine>;
  private readonly receiptTtlMs: number;

  constructor(opts: JsonlAlertStoreOptions) {
    super();
    this.receiptTtlMs = opts.receiptTtlMs ?? RECEIPT_TTL_MS;
    this.log = new JsonlLog<AlertLine>({
      path: opts.path,
      key: alertRowKey,
      snapshot: () => this.compacted(),
      // Lines a compaction would write: the measure of what is live.
      liveCount: () => this.alerts.size + Math.ceil(this.receipts.size / RECEIPTS_PER_LINE),
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.minDeadLines !== undefined ? { minDeadLines: opts.minDeadLines } : {}),
    });
  }

  get path(): string {
    return this.log.path;
  }

  override async init(): Promise<void> {
    const lines = await this.log.load();
    this.alerts.clear();
    this.pointers.clear();
    this.receipts.clear();
    // Full records first (a record line is the latest state but for counts), then the batches'
    // counts, which only ever grow, so their order against the record lines does not matter.
    const batches: Array<AlertLine & { kind: "batch" }> = [];
    for (const line of lines) {
      if (line.kind === "alert") this.putAlert(line.data);
      else if (line.kind === "receipt") this.putReceipt(line.data);
      else if (line.kind === "receipts") for (const r of line.data) this.putReceipt(receiptOf(...r));
      else if (line.kind === "batch") {
        batches.push(line);
        for (const rec of line.created) if (!this.alerts.has(rec.alert_ref)) this.putAlert(rec);
        for (const [key, ref, deduped, occ, created] of line.receipts) this.putReceipt(receiptOf(key, ref, deduped, occ, created, line.at));
        // Lifecycle changes (refresh, resolve, refire) apply in file order, among the record lines.
        const lifecycle = line.bumped.flatMap(([alert_ref, occurrences, l]) => (l ? [{ alert_ref, occurrences, ...l }] : []));
        if (lifecycle.length) this.applyBumps(lifecycle, line.at);
      }
    }
    for (const b of batches) this.applyBumps(b.bumped.map(([alert_ref, occurrences]) => ({ alert_ref, occurrences })), b.at);
  }

  override async close(): Promise<void> {
    await this.log.close();
  }

  protected override persistIngest(plan: IngestPlan): Promise<void> {
    if (!plan.created.length && !plan.bumped.length && !plan.receipts.length) return Promise.resolve();
    const at = plan.now;
    return this.log.append([
      {
        kind: "batch",
        id: lineId(),
        at,
        created: plan.created,
        bumped: plan.bumped.map(({ alert_ref, occurrences, ...l }) => (Object.keys(l).length ? [alert_ref, occurrences, l] : [alert_ref, occurrences])),
        // A receipt's time is the batch's (planIngest stamps them all with `now`).
        receipts: plan.receipts.map((r) => [r.receipt_key, r.result.alert_ref, r.result.deduped, r.result.occurrences, r.result.created]),
      },
    ]);
  }

  protected override persist(rows: AlertRow[]): Promise<void> {
    return this.log.append(rows);
  }

  protected override async settle(): Promise<void> {
    await this.log.maybeCompact();
  }

  protected override persistAll(): Promise<void> {
    return this.log.rewrite(this.snapshot());
  }

  /** Live rows for a compaction; receipts past their TTL are dropped here, from memory too. */
  private compacted(): Iterable<AlertLine> {
    this.receipts.dropOlderThan(Date.now() - this.receiptTtlMs);
    return this.snapshot();
  }

  /** Every alert as a full record, the receipts in chunks. */
  private *snapshot(): Iterable<AlertLine> {
    for (const data of this.alerts.values()) yield { kind: "alert", data };
    let chunk: ReceiptTuple[] = [];
    for (const { receipt_key, result: x, at } of this.receipts.values()) {
      chunk.push([receipt_key, x.alert_ref, x.deduped, x.occurrences, x.created, at]);
      if (chunk.length === RECEIPTS_PER_LINE) {
        yield { kind: "receipts", id: lineId(), data: chunk };
        chunk = [];
      }
    }
    if (chunk.length) yield { kind: "receipts", id: lineId(), data: chunk };
  }
}
