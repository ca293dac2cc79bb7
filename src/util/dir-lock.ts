/**
 * One owner per data dir. Two processes appending to the same JSONL stores interleave and
 * compact over each other (alerts lost and doubled), so a process whose stores live in DATA_DIR
 * holds `DATA_DIR/.opsbus.lock`, created exclusively (O_EXCL) with its pid, host and start time.
 * A second process refuses to start and names the holder; a lock left by a process that is gone
 * (kill -9, power loss) is taken over with a warning. Released on stop and at process exit.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log.js";
import { identityOf, stillRunning, type ProcessIdentity } from "./proc.js";

export const LOCK_FILE = ".opsbus.lock";
/** A lock file with no readable content yet is being written; older than this, its writer died mid-write. */
const TORN_LOCK_GRACE_MS = 2_000;
/** A takeover guard older than this was left by a process that died while taking over. */
const TAKEOVER_GUARD_STALE_MS = 10_000;
const ACQUIRE_ATTEMPTS = 20;
const RETRY_DELAY_MS = 100;

export interface LockHolder extends ProcessIdentity {
  host: string;
  started_at: string;
  command: string;
}

export interface DirLock {
  path: string;
  holder: LockHolder;
  /** Removes the lock if it is still ours; idempotent. */
  release(): void;
}

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
  constructor(
    readonly dir: string,
    readonly lockPath: string,
    readonly holder: LockHolder | null,
    reason: string,
  ) {
    super(`DATA_DIR ${dir} is in use: ${reason}`);
  }
}

/** Locks held by this process, so a second acquisition here is refused with its own message. */
const heldHere = new Set<string>();

function readRaw(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

function parseHolder(raw: string | null): LockHolder | null {
  if (!raw) return null;
  try {
    const h = JSON.parse(raw) as Partial<LockHolder>;
    return typeof h.pid === "number" && typeof h.host === "string" ? ({ boot_id: null, start_ticks: null, started_at: "?", command: "?", ...h } as LockHolder) : null;
  } catch {
    return null;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Creates `path` only if it does not exist; false when it does. */
function createExclusive(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function describe(h: LockHolder): string {
  return `pid ${h.pid} on host ${h.host} (since ${h.started_at}: ${h.command})`;
}

/**
 * Removes a dead holder's lock. Takeovers are serialised by a guard file, and the lock is removed
 * only if it still holds the very content judged stale: a racing process that already took over
 * and wrote its own lock is never removed by a second one.
 */
function removeStale(path: string, staleRaw: string | null): void {
  const guard = `${path}.takeover`;
  if (!createExclusive(guard, String(process.pid))) {
    if (ageMs(guard) < TAKEOVER_GUARD_STALE_MS) return; // another process is taking over; retry
    unlinkSync(guard);
    return;
  }
  try {
    if (readRaw(path) === staleRaw) unlinkSync(path);
  } finally {
    unlinkSync(guard);
  }
}

/**
 * Takes DATA_DIR's lock for this process or throws DataDirLockedError naming the holder. The
 * holder's liveness is checked on this host only: a lock written on another host is refused
 * (this host cannot tell whether that process still runs).
 */
export async function acquireDirLock(dataDir: string, logger: Logger): Promise<DirLock> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  if (heldHere.has(path)) {
    throw new DataDirLockedError(dir, path, null, `this process (pid ${process.pid}) already holds ${path}; one process opens a data dir once`);
  }
  const me: LockHolder = {
    ...identityOf(process.pid),
    host: hostname(),
    started_at: new Date().toISOString(),
    command: process.argv.slice(1).join(" ").slice(0, 200),
  };
  const mine = `${JSON.stringify(me)}\n`;
  let tookOver: LockHolder | null = null;
  for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS; attempt++) {
    if (createExclusive(path, mine)) {
      if (tookOver) logger.warn({ dir, lock: path, stale_pid: tookOver.pid, stale_since: tookOver.started_at }, `took over the lock of ${dir} from pid ${tookOver.pid}, which is no longer running`);
      return held(path, me, mine);
    }
    const raw = readRaw(path);
    if (raw === null) continue; // released between our open and read
    const holder = parseHolder(raw);
    if (!holder) {
      // Being written right now, or torn by a crash between create and write.
      if (ageMs(path) < TORN_LOCK_GRACE_MS) {
        await sleep(RETRY_DELAY_MS);
        continue;
      }
      logger.warn({ dir, lock: path }, `the lock file of ${dir} is unreadable and old; taking it over`);
      removeStale(path, raw);
      continue;
    }
    if (holder.host !== me.host) {
      throw new DataDirLockedError(dir, path, holder, `locked by ${describe(holder)}, another host; if that process is gone, remove ${path}`);
    }
    if (stillRunning(holder)) {
      throw new DataDirLockedError(
        dir,
        path,
        holder,
        `locked by opsbus ${describe(holder)}. Two processes on one data dir corrupt its JSONL stores: stop that one, or give this process its own DATA_DIR (or Postgres stores)`,
      );
    }
    tookOver = holder;
    removeStale(path, raw);
    await sleep(attempt === 0 ? 0 : RETRY_DELAY_MS);
  }
  throw new DataDirLockedError(dir, path, parseHolder(readRaw(path)), `could not take ${path} after ${ACQUIRE_ATTEMPTS} attempts (other processes keep racing for it)`);
}

function held(path: string, holder: LockHolder, content: string): DirLock {
  heldHere.add(path);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(path);
    process.removeListener("exit", release);
    try {
      if (readRaw(path) === content) unlinkSync(path);
    } catch {
      // Gone already, or the dir was removed: nothing left to release.
    }
  };
  // Any exit that runs JS (a crash included) leaves the dir free; kill -9 leaves a stale lock.
  process.on("exit", release);
  return { path, holder, release };
}
