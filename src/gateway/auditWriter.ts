import type { Logger } from "../log.js";
import type { AuditRecord, AuditStore } from "../stores/audit/types.js";

/** Where the gateway puts audit records; `write` never throws and never waits. */
export interface AuditSink {
  write(record: AuditRecord): void;
}

export interface AuditWriterOptions {
  /** How long a record may wait in the buffer before a flush starts. */
  flushIntervalMs?: number;
  /** A flush starts as soon as this many records wait; also the size of each append. */
  batchSize?: number;
  /** Past this many waiting records (store down for long), the oldest are dropped. */
  maxBuffered?: number;
  /** Upper bound of the retry delay after failed flushes (doubling from flushIntervalMs). */
  maxRetryDelayMs?: number;
}

export const AUDIT_WRITER_DEFAULTS = {
  flushIntervalMs: 100,
  batchSize: 200,
  maxBuffered: 100_000,
  maxRetryDelayMs: 5_000,
} as const;

/**
 * Buffers audit records and appends them to the store in batches, so a tool call never waits
 * on the audit database. A failed append keeps the records and retries with backoff.
 */
export class AuditWriter implements AuditSink {
  private buffer: AuditRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  private droppedCount = 0;
  private readonly opts: Required<AuditWriterOptions>;

  constructor(
    private readonly store: AuditStore,
    private readonly logger: Logger,
    opts: AuditWriterOptions = {},
  ) {
    this.opts = { ...AUDIT_WRITER_DEFAULTS, ...opts };
  }

  write(record: AuditRecord): void {
    if (this.closed) {
      this.logger.error({ audit_id: record.id }, "audit writer closed; appending directly");
      this.store.append([record]).catch((err: unknown) => this.logger.error({ err }, "audit append after close failed"));
      return;
    }
    this.buffer.push(record);
    this.enforceBound();
    if (this.buffer.length >= this.opts.batchSize && this.failures === 0) void this.flush();
    else this.schedule(this.opts.flushIntervalMs);
  }

  /** Records waiting to be written. */
  pending(): number {
    return this.buffer.length;
  }

  /** Records dropped because the buffer overflowed while the store was failing. */
  dropped(): number {
    return this.droppedCount;
  }

  /** Writes everything buffered now; on a store failure the records stay buffered (logged). */
  flush(): Promise<void> {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  /** Stops the timer and makes a last attempt to write everything buffered. */
  async close(): Promise<void> {
    this.clearTimer();
    await this.flush();
    this.closed = true;
    this.clearTimer();
    if (this.buffer.length) {
      this.logger.error({ lost: this.buffer.length }, "audit writer closed with records the store did not take");
    }
  }

  private async drain(): Promise<void> {
    this.clearTimer();
    while (this.buffer.length) {
      const batch = this.buffer.splice(0, this.opts.batchSize);
      try {
        await this.store.append(batch);
        this.failures = 0;
      } catch (err) {
        this.buffer = batch.concat(this.buffer);
        this.enforceBound();
        this.failures += 1;
        const delay = Math.min(this.opts.maxRetryDelayMs, this.opts.flushIntervalMs * 2 ** this.failures);
        this.logger.error({ err, pending: this.buffer.length, retry_in_ms: delay }, "audit flush failed; will retry");
        if (!this.closed) this.schedule(delay);
        return;
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private enforceBound(): void {
    const excess = this.buffer.length - this.opts.maxBuffered;
    if (excess <= 0) return;
    this.buffer.splice(0, excess);
    const before = this.droppedCount;
    this.droppedCount += excess;
    // One line per thousand drops, not one per call, while the store stays down.
    if (before === 0 || Math.floor(before / 1000) !== Math.floor(this.droppedCount / 1000)) {
      this.logger.error({ dropped_total: this.droppedCount }, "audit buffer full; dropping oldest records");
    }
  }
}
