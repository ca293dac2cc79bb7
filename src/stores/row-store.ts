/**
 * A memory store whose whole state is a set of keyed replay rows, and so can persist itself to a
 * JSONL file without knowing more: rows are appended before they are applied, the file is read
 * back on init (last line per key wins) and compacted from `rows()`. The memory backend leaves
 * the file out; the JSONL backend is the same class with `persistTo(path)`.
 */
import type { Logger } from "../log.js";
import { JsonlLog } from "./jsonl.js";
import { SerialStore } from "./serial.js";

export interface JsonlFileOptions {
  path: string;
  logger?: Logger;
  minDeadLines?: number;
}

export abstract class RowStore<Row> extends SerialStore<Row> {
  private log: JsonlLog<Row> | undefined;

  /** Every live row, parents before children (what an importer or a compaction needs). */
  protected abstract rows(): Iterable<Row>;
  /** Live entries, which tells the JSONL file how many of its lines are dead. */
  protected abstract liveCount(): number;
  /** Puts one loaded row into the state. */
  protected abstract apply(row: Row): void;
  /** Empties the state. */
  protected abstract reset(): void;

  /** Makes this store the JSONL backend: its state lives in `opts.path` (one process per file). */
  protected persistTo(opts: JsonlFileOptions, key: (row: Row) => string): void {
    this.log = new JsonlLog<Row>({
      path: opts.path,
      key,
      snapshot: () => this.rows(),
      liveCount: () => this.liveCount(),
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.minDeadLines !== undefined ? { minDeadLines: opts.minDeadLines } : {}),
    });
  }

  /** Rows held in process memory (every live entry); health warns past JSONL_WARN_RECORDS. */
  get recordsInMemory(): number {
    return this.liveCount();
  }

  /** The JSONL file, if this store has one. */
  get path(): string | undefined {
    return this.log?.path;
  }

  override async init(): Promise<void> {
    if (!this.log) return;
    const rows = await this.log.load();
    this.reset();
    for (const row of rows) this.apply(row);
  }

  override async close(): Promise<void> {
    await this.log?.close();
  }

  clearRows(): Promise<void> {
    return this.exclusive(async () => {
      this.reset();
      await this.persistAll();
    });
  }

  protected override async persist(rows: Row[]): Promise<void> {
    await this.log?.append(rows);
  }

  protected override async persistAll(): Promise<void> {
    await this.log?.rewrite(this.rows());
  }

  protected override async settle(): Promise<void> {
    await this.log?.maybeCompact();
  }
}
