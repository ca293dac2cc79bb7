/**
 * Facts about other processes on this host: is a pid alive, and is it still the process we saw
 * (a pid is reused after its process ends; in a container the same small pid comes back on every
 * restart). Linux answers through /proc; elsewhere only `kill(pid, 0)` is available.
 */
import { readFileSync } from "node:fs";

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name (state first), or null where there is no
 * /proc or the process is gone.
 */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/**
 * The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), as a string;
 * with the boot id it tells one process from a later one given the same pid. Null off Linux.
 */
export function procStartTicks(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** The parent pid from /proc, or null (off Linux, or the process is gone). */
export function procParent(pid: number): number | null {
  const ppid = Number(statFields(pid)?.[1]);
  return Number.isInteger(ppid) ? ppid : null;
}

/** The executable's short name (`comm`), or null. */
export function procName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

/** Changes on every boot; with the start ticks it pins a process identity across reboots. */
export function bootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
}

/** Who a process is, as far as this host can tell later: pid plus, on Linux, boot and start time. */
export interface ProcessIdentity {
  pid: number;
  boot_id: string | null;
  start_ticks: string | null;
}

export function identityOf(pid: number): ProcessIdentity {
  return { pid, boot_id: bootId(), start_ticks: procStartTicks(pid) };
}

/**
 * True while the process described by `who` (on this host) still runs: its pid exists and, where
 * /proc can tell, it is the same boot and the same start time (not a later process with its pid).
 */
export function stillRunning(who: ProcessIdentity): boolean {
  if (!pidExists(who.pid)) return false;
  if (who.boot_id && bootId() && who.boot_id !== bootId()) return false;
  if (who.start_ticks) {
    const now = procStartTicks(who.pid);
    if (now !== null && now !== who.start_ticks) return false;
  }
  return true;
}
