/**
 * Backlog items and events in memory, persisted to a JSONL file: every change appends the rows it
 * changes (`{kind,data}`, last line per key wins) before they are applied; cleanup rewrites the
 * file atomically. One process per file (see JsonlLog).
 */
import type { JsonlFileOptions } from "../row-store.js";
import { backlogRowKey } from "../../backlog/item-plans.js";
import { MemoryBacklogStore } from "./memory.js";

export type JsonlBacklogStoreOptions = JsonlFileOptions;

export class JsonlBacklogStore extends MemoryBacklogStore {
  override readonly backendName: string = "JsonlBacklogStore";

  constructor(opts: JsonlBacklogStoreOptions) {
    super();
    this.persistTo(opts, backlogRowKey);
  }
}
