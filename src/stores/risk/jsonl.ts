/**
 * Risk snapshots in memory, persisted to an append-only JSONL file (`{kind:"risk",data}` lines),
 * read back on init. Snapshots never change, so the file only shrinks when cleanup rewrites it.
 * One process per file (see JsonlLog).
 */
import type { Logger } from "../../log.js";
import { JsonlLog } from "../jsonl.js";
import { MemoryRiskHistoryStore } from "./memory.js";
import type { RiskRow, RiskSnapshot } from "../../risk/store.js";

export interface JsonlRiskHistoryStoreOptions {
  path: string;
  logger?: Logger;
}

const row = (data: RiskSnapshot): RiskRow => ({ kind: "risk", data });

export class JsonlRiskHistoryStore extends MemoryRiskHistoryStore {
  override readonly backendName: string = "JsonlRiskHistoryStore";
  private readonly log: JsonlLog<RiskRow>;

  constructor(opts: JsonlRiskHistoryStoreOptions) {
    super();
    this.log = new JsonlLog<RiskRow>({
      path: opts.path,
      key: (r) => r.data.id,
      snapshot: () => [...this.snapshots.values()].map(row),
      liveCount: () => this.snapshots.size,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }

  get path(): string {
    return this.log.path;
  }

  override async init(): Promise<void> {
    const rows = await this.log.load();
    this.snapshots.clear();
    for (const r of rows) if (r.kind === "risk") this.snapshots.set(r.data.id, r.data);
  }

  override async close(): Promise<void> {
    await this.log.close();
  }

  protected override persist(snapshots: RiskSnapshot[]): Promise<void> {
    return this.log.append(snapshots.map(row));
  }

  protected override persistAll(): Promise<void> {
    return this.log.rewrite([...this.snapshots.values()].map(row));
  }
}
