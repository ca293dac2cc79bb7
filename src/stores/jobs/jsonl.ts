/**
 * The run ledger in memory, persisted to a JSONL file (rows appended before they are applied,
 * read back on init). Transitions are never rewritten, so the file is the append-only ledger;
 * compaction only drops superseded lease lines. One process per file (see JsonlLog).
 */
import type { Logger } from "../../log.js";
import { JsonlLog } from "../jsonl.js";
import { jobRowKey } from "./ledger-logic.js";
import { MemoryJobLedgerStore } from "./memory.js";
import type { JobRow } from "./types.js";

export interface JsonlJobLedgerStoreOptions {
  path: string;
  logger?: Logger;
  minDeadLines?: number;
}

export class JsonlJobLedgerStore extends MemoryJobLedgerStore {
  override readonly backendName: string = "JsonlJobLedgerStore";
  private readonly log: JsonlLog<JobRow>;

  constructor(opts: JsonlJobLedgerStoreOptions) {
    super();
    this.log = new JsonlLog<JobRow>({
      path: opts.path,
      key: jobRowKey,
      snapshot: () => this.rows(),
      liveCount: () => this.liveCount(),
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.minDeadLines !== undefined ? { minDeadLines: opts.minDeadLines } : {}),
    });
  }

  get path(): string {
    return this.log.path;
  }

  override async init(): Promise<void> {
    const rows = await this.log.load();
    for (const m of [this.headers, this.byKey, this.transitionsOf, this.leases]) m.clear();
    for (const row of rows) this.apply(row);
  }

  override async close(): Promise<void> {
    await this.log.close();
  }

  protected override persist(rows: JobRow[]): Promise<void> {
    return this.log.append(rows);
  }

  protected override async settle(): Promise<void> {
    await this.log.maybeCompact();
  }

  protected override persistAll(): Promise<void> {
    return this.log.rewrite(this.rows());
  }
}
