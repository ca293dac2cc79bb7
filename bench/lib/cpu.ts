/**
 * CPU time and page faults of processes, read from /proc/<pid>/stat (utime + stime, minflt): CPU
 * time stays meaningful on a busy machine, where wall-clock ratios do not.
 */
import type pg from "pg";
import { statFields } from "../../src/util/proc.js";

/** Clock ticks per second (USER_HZ), as /proc reports utime and stime. */
export const TICKS_PER_SECOND = 100;

/** utime + stime of a process in ticks, or undefined once it is gone. */
export function cpuTicks(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[11]) + Number(f[12]) : undefined;
}

/**
 * Minor page faults of a process so far (first touches of memory it was given), or undefined once
 * it is gone: on a virtual machine each can cost microseconds of CPU.
 */
export function minorFaults(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[7]) : undefined;
}

/** CPU seconds per 100,000 alerts, two decimals. */
export function secondsPer100k(ticks: number, alerts: number): number {
  return Math.round(((ticks / TICKS_PER_SECOND) * 100_000 * 100) / alerts) / 100;
}

/** The ticks of the bench's own process since `since` (process.cpuUsage()). */
export function ownTicks(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return ((used.user + used.system) / 1e6) * TICKS_PER_SECOND;
}

/**
 * CPU ticks of `pid` once they stop rising (a quarter second without a tick), at most `maxMs`
 * from now: for a server that works on after its last answer.
 */
export async function settledTicks(pid: number, maxMs: number): Promise<number> {
  const until = performance.now() + maxMs;
  let last = cpuTicks(pid) ?? 0;
  while (performance.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    const now = cpuTicks(pid) ?? last;
    if (now === last) break;
    last = now;
  }
  return last;
}

/**
 * The Postgres backends serving `client`'s database: their CPU, sampled every half second until
 * `end`, so a backend that connects meanwhile counts from 0.
 */
export function watchBackends(client: pg.Client) {
  const start = new Map<number, number>();
  const last = new Map<number, number>();
  const pids = async () => (await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).rows.map((r) => r.pid);
  const sample = async (first: boolean) => {
    for (const pid of await pids()) {
      const t = cpuTicks(pid);
      if (t === undefined) continue;
      if (!start.has(pid)) start.set(pid, first ? t : 0);
      last.set(pid, t);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    async begin() {
      await sample(true);
      timer = setInterval(() => void sample(false).catch(() => undefined), 500);
    },
    /** Ticks used since `begin`. */
    async end(): Promise<number> {
      clearInterval(timer);
      await sample(false);
      let ticks = 0;
      for (const [pid, t] of last) ticks += t - (start.get(pid) ?? 0);
      return ticks;
    },
  };
}
