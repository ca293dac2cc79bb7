import type { Logger } from "../log.js";
import type { AuditRecord, AuditStore } from "../audit/store.js";
import { DeadLetterFile } from "../util/dead-letter.js";
import { describeStoreError, isRecordError, storableDeep, storableText } from "../util/storable.js";

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
  /**
   * Where records the store refuses for good go (e.g. `deadLetterPath(DATA_DIR, "audit")`);
   * without one they are only logged (whole, as the audit would have kept them) and counted.
   */
  deadLetterPath?: string;
}

/** What `/metrics`, health and verify show of the writer. */
export interface AuditWriterStats {
  /** Records waiting for the store, including a batch being appended right now. */
  backlog: number;
  /** Records the store refused for good, set aside in the dead-letter file. */
  deadLettered: number;
  /** Records dropped because the buffer overflowed while the store was failing. */
  dropped: number;
  /** The last failure seen (an append retried, or a record dead-lettered), with its SQLSTATE. */
  lastError?: string;
}

export const AUDIT_WRITER_DEFAULTS = {
  flushIntervalMs: 100,
  batchSize: 200,
  maxBuffered: 100_000,
  maxRetryDelayMs: 5_000,
} as const;

/** The string fields of a record come from callers (agent_id, tool, action, request ids, messages). */
const TEXT_FIELDS = ["id", "ts", "agent_id", "role", "tool", "action", "decision", "status", "channel", "node_id", "error_message", "request_id"] as const;

/** The record with every text field a storable string (NUL and lone surrogates replaced). */
export function storableRecord(record: AuditRecord): AuditRecord {
  const out = { ...record };
  for (const f of TEXT_FIELDS) {
    const v = out[f];
    if (v === undefined) continue;
    (out as Record<string, unknown>)[f] = storableText(typeof v === "string" ? v : String(v));
  }
  return out;
}

/**
 * Buffers audit records and appends them to the store in batches, so a tool call never waits
 * on the audit database. A failed append keeps the records and retries with backoff when the
 * failure is the store's (down, timeout, disk); when it is a record's (the store refuses its
 * data), the batch is split in halves until the record is found, that record goes to the
 * dead-letter file and the rest are stored, so one bad record can never stop the audit.
 */
export class AuditWriter implements AuditSink {
  private buffer: AuditRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  private droppedCount = 0;
  private deadCount = 0;
  private inFlight = 0;
  private lastError: string | undefined;
  private readonly opts: Required<Omit<AuditWriterOptions, "deadLetterPath">>;
  private readonly deadLetters: DeadLetterFile | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly logger: Logger,
    opts: AuditWriterOptions = {},
  ) {
    const { deadLetterPath, ...rest } = opts;
    this.opts = { ...AUDIT_WRITER_DEFAULTS, ...rest };
    this.deadLetters = deadLetterPath ? new DeadLetterFile(deadLetterPath) : undefined;
  }

  write(input: AuditRecord): void {
    const record = storableRecord(input);
    if (this.closed) {
      this.logger.error({ audit_id: record.id }, "audit writer closed; appending directly");
      this.appendIsolating([record]).catch((err: unknown) => this.logger.error({ err }, "audit append after close failed"));
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

  stats(): AuditWriterStats {
    return {
      backlog: this.buffer.length + this.inFlight,
      deadLettered: this.deadCount,
      dropped: this.droppedCount,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
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
      this.inFlight = batch.length;
      try {
        await this.appendIsolating(batch);
        this.failures = 0;
      } catch (err) {
        // Transient: the whole batch again later (appends are idempotent per id, so the halves
        // already stored while isolating a record are not doubled).
        this.lastError = describeStoreError(err);
        this.buffer = batch.concat(this.buffer);
        this.enforceBound();
        this.failures += 1;
        const delay = Math.min(this.opts.maxRetryDelayMs, this.opts.flushIntervalMs * 2 ** this.failures);
        this.logger.error({ err, pending: this.buffer.length, retry_in_ms: delay }, "audit flush failed; will retry");
        if (!this.closed) this.schedule(delay);
        return;
      } finally {
        this.inFlight = 0;
      }
    }
  }

  /**
   * Appends `batch`; on a record error, bisects to the records the store refuses, tries each once
   * more as plain JSON with every string made storable, and dead-letters it if that fails too.
   * Throws (for a retry of the whole batch) on any other error.
   */
  private async appendIsolating(batch: AuditRecord[]): Promise<void> {
    try {
      await this.store.append(batch);
      return;
    } catch (err) {
      if (!isRecordError(err)) throw err;
      if (batch.length > 1) {
        const mid = batch.length >> 1;
        await this.appendIsolating(batch.slice(0, mid));
        await this.appendIsolating(batch.slice(mid));
        return;
      }
      const [record] = batch as [AuditRecord];
      let refused: unknown = err;
      try {
        await this.store.append([JSON.parse(JSON.stringify(storableDeep(record))) as AuditRecord]);
        this.logger.warn({ audit_id: record.id, err }, "audit record stored after replacing what the store refused");
        return;
      } catch (again) {
        if (!isRecordError(again)) throw again;
        refused = again;
      }
      await this.deadLetter(record, refused);
    }
  }

  private async deadLetter(record: AuditRecord, err: unknown): Promise<void> {
    const reason = describeStoreError(err);
    // A dead-letter file that cannot be written throws: the record stays buffered and is retried.
    await this.deadLetters?.write([{ source: "audit", reason, record: storableDeep(record) }]);
    this.deadCount += 1;
    this.lastError = reason;
    this.logger.error(
      { audit_id: record.id, reason, dead_lettered_total: this.deadCount, ...(this.deadLetters ? { file: this.deadLetters.path } : { record }) },
      "audit record refused by the store; dead-lettered",
    );
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
