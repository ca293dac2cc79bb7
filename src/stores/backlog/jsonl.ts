/**
 * Backlog items and events in memory, persisted to a JSONL file: every change appends the rows it
 * changes (`{kind,data}`, last line per key wins) before they are applied; cleanup rewrites the
 * file atomically. One process per file (see JsonlLog).
 */
import type { Logger } from "../../log.js";
import { JsonlLog } from "../jsonl.js";
import { backlogRowKey } from "./logic.js";
import { MemoryBacklogStore } from "./memory.js";
import type { BacklogRow } from "./types.js";

export interface JsonlBacklogStoreOptions {
  path: string;
  logger?: Logger;
  minDeadLines?: number;
}

export class JsonlBacklogStore extends MemoryBacklogStore {
  override readonly backendName: string = "JsonlBacklogStore";
  private readonly log: JsonlLog<BacklogRow>;

  constructor(opts: JsonlBacklogStoreOptions) {
    super();
    this.log = new JsonlLog<BacklogRow>({
      path: opts.path,
      key: backlogRowKey,
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
    for (const m of [this.items, this.keys, this.eventsById]) m.clear();
    for (const row of rows) this.apply(row);
  }

  override async close(): Promise<void> {
    await this.log.close();
  }

  protected override persist(rows: BacklogRow[]): Promise<void> {
    return this.log.append(rows);
  }

  protected override async settle(): Promise<void> {
    await this.log.maybeCompact();
  }

  protected override persistAll(): Promise<void> {
    return this.log.rewrite(this.rows());
  }
}
