/**
 * Incidents in memory, persisted to a JSONL file: every change appends the full rows it changes
 * (`{kind,data}`, last line per key wins) before they are applied, and the file is read back on
 * init. One process per file (see JsonlLog).
 */
import type { Logger } from "../../log.js";
import { JsonlLog } from "../jsonl.js";
import { MemoryIncidentStore } from "./memory.js";
import { incidentRowKey } from "./query.js";
import type { IncidentRow } from "./types.js";

export interface JsonlIncidentStoreOptions {
  path: string;
  logger?: Logger;
  minDeadLines?: number;
}

export class JsonlIncidentStore extends MemoryIncidentStore {
  override readonly backendName: string = "JsonlIncidentStore";
  private readonly log: JsonlLog<IncidentRow>;

  constructor(opts: JsonlIncidentStoreOptions) {
    super();
    this.log = new JsonlLog<IncidentRow>({
      path: opts.path,
      key: incidentRowKey,
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
    for (const m of [this.incidents, this.eventsById, this.eventKeys, this.artifactsByKey, this.signatures, this.runs, this.slots]) m.clear();
    for (const row of rows) this.apply(row);
  }

  override async close(): Promise<void> {
    await this.log.close();
  }

  protected override persist(rows: IncidentRow[]): Promise<void> {
    return this.log.append(rows);
  }

  protected override async settle(): Promise<void> {
    await this.log.maybeCompact();
  }

  protected override persistAll(): Promise<void> {
    return this.log.rewrite(this.rows());
  }
}
