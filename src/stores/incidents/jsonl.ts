/**
 * Incidents in memory, persisted to a JSONL file: every change appends the full rows it changes
 * (`{kind,data}`, last line per key wins) before they are applied, and the file is read back on
 * init. One process per file (see JsonlLog).
 */
import type { JsonlFileOptions } from "../row-store.js";
import { incidentRowKey } from "../../incidents/query-rules.js";
import { MemoryIncidentStore } from "./memory.js";

export type JsonlIncidentStoreOptions = JsonlFileOptions;

export class JsonlIncidentStore extends MemoryIncidentStore {
  override readonly backendName: string = "JsonlIncidentStore";

  constructor(opts: JsonlIncidentStoreOptions) {
    super();
    this.persistTo(opts, incidentRowKey);
  }
}
