/**
 * Judges a live copy every process holds (the silences) against its backend. Behind the backend,
 * or with its feed down, for longer than a grace is a problem: this process would match alerts
 * against silences that are not the cluster's (muting what was expired elsewhere, paging what was
 * silenced). A moment behind is normal: a write elsewhere takes milliseconds to arrive.
 */
import type { LiveCopyState } from "../silences/store.js";

/** Writes reach every live copy within a second; five is a copy that stopped following. */
export const LIVE_COPY_GRACE_MS = 5_000;

export class LiveCopyWatch {
  private behindSince: number | undefined;

  constructor(
    private readonly name: string,
    private readonly read: () => Promise<LiveCopyState>,
    private readonly graceMs = LIVE_COPY_GRACE_MS,
  ) {}

  /** A problem line, or undefined while the copy follows (or has lagged for less than the grace). */
  async problem(now: number): Promise<string | undefined> {
    let st: LiveCopyState;
    try {
      st = await this.read();
    } catch (err) {
      return `${this.name}: the live copy cannot be compared with the bucket: ${(err as Error).message}`;
    }
    if (st.watching && st.applied >= st.stored) {
      this.behindSince = undefined;
      return undefined;
    }
    this.behindSince ??= now;
    const lagMs = now - this.behindSince;
    if (lagMs < this.graceMs) return undefined;
    const seconds = Math.round(lagMs / 1000);
    return st.watching
      ? `${this.name}: the live copy is ${st.stored - st.applied} revision(s) behind the bucket for ${seconds} s; changes made elsewhere are not applied here`
      : `${this.name}: the live copy's watch is down for ${seconds} s (applied up to revision ${st.applied} of ${st.stored}); changes made elsewhere are not applied here`;
  }
}
