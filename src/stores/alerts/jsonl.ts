/**
 * Alerts in memory, persisted to a JSONL file: every change appends the full record
 * (`{kind:"alert",data}` or `{kind:"receipt",data}`) before it is applied, and the file is read
 * back on init. Receipts older than a day are dropped when the file is compacted. One process per
 * file (see JsonlLog).
 */
import type { Logger } from "../../log.js";
import { JsonlLog } from "../jsonl.js";
import { MemoryAlertStore } from "./memory.js";
import type { AlertRow } from "./types.js";

export interface JsonlAlertStoreOptions {
  path: string;
  logger?: Logger;
  /** Receipts older than this are not kept through a compaction. Default 24 h. */
  receiptTtlMs?: number;
  minDeadLines?: number;
}

export const RECEIPT_TTL_MS = 24 * 60 * 60 * 1000;

export function alertRowKey(row: AlertRow): string {
  return row.kind === "alert" ? `alert:${row.data.alert_ref}` : `receipt:${row.data.receipt_key}`;
}

export class JsonlAlertStore extends MemoryAlertStore {
  override readonly backendName: string = "JsonlAlertStore";
  private readonly log: JsonlLog<AlertRow>;
  private readonly receiptTtlMs: number;

  constructor(opts: JsonlAlertStoreOptions) {
    super();
    this.receiptTtlMs = opts.receiptTtlMs ?? RECEIPT_TTL_MS;
    this.log = new JsonlLog<AlertRow>({
      path: opts.path,
      key: alertRowKey,
      snapshot: () => this.compacted(),
      liveCount: () => this.alerts.size + this.receipts.size,
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.minDeadLines !== undefined ? { minDeadLines: opts.minDeadLines } : {}),
    });
  }

  get path(): string {
    return this.log.path;
  }

  override async init(): Promise<void> {
    const rows = await this.log.load();
    this.alerts.clear();
    this.pointers.clear();
    this.receipts.clear();
    for (const row of rows) {
      if (row.kind === "alert") this.putAlert(row.data);
      else if (row.kind === "receipt") this.putReceipt(row.data);
    }
  }

  override async close(): Promise<void> {
    await this.log.close();
  }

  protected override persist(rows: AlertRow[]): Promise<void> {
    return this.log.append(rows);
  }

  protected override async settle(): Promise<void> {
    await this.log.maybeCompact();
  }

  protected override persistAll(): Promise<void> {
    return this.log.rewrite(this.rows());
  }

  /** Live rows for a compaction; receipts past their TTL are dropped here, from memory too. */
  private *compacted(): Iterable<AlertRow> {
    const oldest = Date.now() - this.receiptTtlMs;
    for (const [key, r] of this.receipts) {
      if (Date.parse(r.at) < oldest) this.receipts.delete(key);
    }
    yield* this.rows();
  }
}
