/**
 * The run ledger in memory, persisted to a JSONL file (rows appended before they are applied,
 * read back on init). Transitions are never rewritten, so the file is the append-only ledger;
 * compaction only drops superseded lease lines. One process per file (see JsonlLog).
 */
import type { JsonlFileOptions } from "../row-store.js";
import { jobRowKey } from "../../jobs/ledger-rules.js";
import { MemoryJobLedgerStore } from "./memory.js";

export type JsonlJobLedgerStoreOptions = JsonlFileOptions;

export class JsonlJobLedgerStore extends MemoryJobLedgerStore {
  override readonly backendName: string = "JsonlJobLedgerStore";

  constructor(opts: JsonlJobLedgerStoreOptions) {
    super();
    this.persistTo(opts, jobRowKey);
  }
}
