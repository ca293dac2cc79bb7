/**
 * Whether an audit writer keeps up, from its own counts (`AuditWriter.stats()`): not ok while its
 * backlog has not shrunk for the stall window (store down or hung: records only pile up), or for
 * a stall window after a record was dead-lettered (the store refused it for good).
 */

/** What an audit writer tells about itself. */
export interface AuditStats {
  backlog: number;
  deadLettered: number;
  dropped?: number;
  lastError?: string;
}

export interface AuditStatsSource {
  stats(): AuditStats;
}

export interface AuditVerdict {
  writer: string;
  backlog: number;
  dead_lettered: number;
  dropped?: number;
  last_error?: string;
  /** Why the writer is not ok; absent when it is. */
  problem?: string;
}

export class AuditWatch {
  private deadSeen = 0;
  private deadGrewAt: number | undefined;
  private backlogSince: { last: number; ms: number } | undefined;

  constructor(
    readonly writer: string,
    private readonly source: AuditStatsSource,
  ) {}

  observe(nowMs: number, stallMs: number): AuditVerdict {
    const s = this.source.stats();
    const out: AuditVerdict = {
      writer: this.writer,
      backlog: s.backlog,
      dead_lettered: s.deadLettered,
      ...(s.dropped !== undefined ? { dropped: s.dropped } : {}),
      ...(s.lastError !== undefined ? { last_error: s.lastError } : {}),
    };
    if (s.deadLettered > this.deadSeen) this.deadGrewAt = nowMs;
    this.deadSeen = Math.max(this.deadSeen, s.deadLettered);
    // A shrinking backlog is progress; one that only grows or stays is not.
    if (s.backlog === 0) this.backlogSince = undefined;
    else if (!this.backlogSince || s.backlog < this.backlogSince.last) this.backlogSince = { last: s.backlog, ms: nowMs };
    else this.backlogSince.last = s.backlog;
    const error = s.lastError ? ` (last error: ${s.lastError})` : "";
    const stuckMs = this.backlogSince ? nowMs - this.backlogSince.ms : 0;
    if (stuckMs >= stallMs) {
      out.problem = `audit (${this.writer}): ${s.backlog} record(s) waiting, not written for ${Math.round(stuckMs / 1000)}s${error}`;
    } else if (this.deadGrewAt !== undefined && nowMs - this.deadGrewAt < stallMs) {
      out.problem = `audit (${this.writer}): ${s.deadLettered} record(s) dead-lettered since start, the last within ${Math.ceil(stallMs / 1000)}s${error}`;
    }
    return out;
  }
}
