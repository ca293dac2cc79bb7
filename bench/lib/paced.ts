/**
 * An open-loop load: item `i` is started at `i / ratePerSec` seconds, whether or not the earlier
 * ones were answered (a latency measured under a closed loop would hide queueing), with at most
 * `maxInFlight` unanswered at once as a safety stop. Resolves when every item was answered.
 */
import { setTimeout as delay } from "node:timers/promises";

export interface PacedResult {
  elapsedMs: number;
  failed: number;
  /** The first few failures. */
  failures: string[];
  /** Items started late because `maxInFlight` were unanswered. */
  heldBack: number;
}

export async function paced(count: number, ratePerSec: number, start: (i: number) => Promise<void>, maxInFlight = 1_000): Promise<PacedResult> {
  const t0 = performance.now();
  const failures: string[] = [];
  const inflight = new Set<Promise<void>>();
  let heldBack = 0;
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / ratePerSec;
    const wait = due - performance.now();
    if (wait > 1) await delay(wait);
    if (inflight.size >= maxInFlight) {
      heldBack++;
      while (inflight.size >= maxInFlight) await Promise.race(inflight);
    }
    const p: Promise<void> = start(i)
      .catch((err: unknown) => {
        failed++;
        if (failures.length < 20) failures.push(`#${i}: ${(err as Error).message}`);
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  return { elapsedMs: performance.now() - t0, failed, failures, heldBack };
}
