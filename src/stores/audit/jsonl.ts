/**
 * Audit records in memory, persisted to an append-only JSONL file (`{kind:"audit",data}` lines),
 * read back on init. Records never change, so the file only shrinks when a purge rewrites it.
 * One process per file (see JsonlLog).
 */
import type { Logger } from "../../log.js";
import { JsonlLog } from "../jsonl.js";
import { MemoryAuditStore } from "./memory.js";
import type { AuditRecord, AuditRow } from "../../audit/store.js";

export interface JsonlAuditStoreOptions {
  path: string;
  logger?: Logger;
}

export class JsonlAuditStore extends MemoryAuditStore {
  override readonly backendName: string = "JsonlAuditStore";
  private readonly log: JsonlLog<AuditRow>;

  constructor(opts: JsonlAuditStoreOptions) {
    super();
    this.log = new JsonlLog<AuditRow>({
      path: opts.path,
      key: (row) => row.data.id,
      snapshot: () => [...this.records.values()].map((data): AuditRow => ({ kind: "audit", data })),
      liveCount: () => this.records.size,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }

  get path(): string {
    return this.log.path;
  }

  override async init(): Promise<void> {
    const rows = await this.log.load();
    this.records.clear();
    for (const row of rows) if (row.kind === "audit") this.records.set(row.data.id, row.data);
  }

  override async close(): Promise<void> {
    await this.log.close();
  }

  protected override persist(records: AuditRecord[]): Promise<void> {
    return this.log.append(records.map((data): AuditRow => ({ kind: "audit", data })));
  }

  protected override persistAll(): Promise<void> {
    return this.log.rewrite([...this.records.values()].map((data): AuditRow => ({ kind: "audit", data })));
  }
}
