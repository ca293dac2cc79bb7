/**
 * Lowering this process's CPU priority (nice), every thread of it. The ingest worker does this
 * when it runs on its own: an alert storm is answered by the intake first (Prometheus drops
 * alerts when its queue to the Alertmanager fills), and the worker catches up from the durable
 * stream. Nice only matters while the CPU is contended; on an idle host the worker runs as fast.
 */
import { readdirSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** The nice values Linux allows. */
export const MAX_NICE = 19;

export interface PriorityChange {
  /** The nice value now, or undefined when nothing changed. */
  nice?: number;
  /** Threads changed. */
  threads: number;
  /** Why some or all could not change (not allowed, no /proc). */
  error?: string;
}

/** Thread ids of this process (Linux: /proc/self/task); [0] (this thread) elsewhere. */
function threadIds(): number[] {
  try {
    return readdirSync("/proc/self/task").map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [0];
  }
}

/**
 * Adds `by` (0..19) to the nice value of every thread of this process. Linux keeps a nice value
 * per thread, and V8 starts its GC and compiler threads before any of our code runs, so each is
 * changed; threads started later inherit it from the thread that starts them.
 */
export function lowerCpuPriority(by: number): PriorityChange {
  if (!Number.isInteger(by) || by <= 0) return { threads: 0 };
  const nice = Math.min(MAX_NICE, getPriority(0) + by);
  let threads = 0;
  let error: string | undefined;
  for (const tid of threadIds()) {
    try {
      setPriority(tid, nice);
      threads++;
    } catch (err) {
      // A thread that ended meanwhile, or a host that forbids it: the rest still change.
      error ??= (err as Error).message;
    }
  }
  return { ...(threads ? { nice } : {}), threads, ...(error ? { error } : {}) };
}
