/** DATA_DIR's lock: one holder, named when refused; a dead holder's lock taken over with a warning. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { acquireDirLock, DataDirLockedError, LOCK_FILE } from "../../src/util/dir-lock.js";
import { identityOf } from "../../src/util/proc.js";
import { captureLogger } from "../harness/logs.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "opsbus-dirlock-"));
  dirs.push(d);
  return d;
};
const writeLock = (dir: string, holder: object) =>
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ host: hostname(), started_at: "2026-01-01T00:00:00.000Z", command: "opsbus start", ...holder }));
/** A pid that certainly ran and has ended. */
const deadPid = () => spawnSync("true").pid!;

test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test("the lock file names this process; a second acquisition in the same process is refused", async () => {
  const dir = tempDir();
  const { logger } = captureLogger();
  const lock = await acquireDirLock(dir, logger);
  const content = JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8"));
  assert.is(content.pid, process.pid);
  assert.is(content.host, hostname());
  assert.ok(content.started_at);
  const err = await acquireDirLock(dir, logger).catch((e: unknown) => e);
  assert.instance(err, DataDirLockedError);
  assert.match((err as Error).message, `already holds`);
  lock.release();
  assert.not.ok(existsSync(join(dir, LOCK_FILE)), "released");
  (await acquireDirLock(dir, logger)).release();
});

test("a lock held by another live process is refused with its pid; the file is left alone", async () => {
  const dir = tempDir();
  const holder = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    writeLock(dir, identityOf(holder.pid!));
    const before = readFileSync(join(dir, LOCK_FILE), "utf8");
    const err = await acquireDirLock(dir, captureLogger().logger).catch((e: unknown) => e);
    assert.instance(err, DataDirLockedError);
    assert.match((err as Error).message, `pid ${holder.pid}`);
    assert.match((err as Error).message, "corrupt");
    assert.is((err as DataDirLockedError).holder?.pid, holder.pid);
    assert.is(readFileSync(join(dir, LOCK_FILE), "utf8"), before, "holder's lock untouched");
  } finally {
    holder.kill("SIGKILL");
  }
});

test("a lock of a dead pid is taken over with a warning naming it", async () => {
  const dir = tempDir();
  const pid = deadPid();
  writeLock(dir, { pid, boot_id: null, start_ticks: null });
  const logs = captureLogger();
  const lock = await acquireDirLock(dir, logs.logger);
  assert.is(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid, process.pid);
  const warn = logs.lines().find((l) => l.level === 40);
  assert.ok(warn, "a warning");
  assert.is(warn!.stale_pid, pid);
  assert.match(String(warn!.msg), `pid ${pid}`);
  lock.release();
});

test("a live pid that is a later process than the holder (pid reused) counts as dead", async () => {
  if (!identityOf(process.pid).start_ticks) return; // needs /proc
  const dir = tempDir();
  writeLock(dir, { ...identityOf(process.ppid), start_ticks: "1" });
  const lock = await acquireDirLock(dir, captureLogger().logger);
  assert.is(lock.holder.pid, process.pid);
  lock.release();
});

test("an empty lock file (writer died between create and write) is taken over once it is old", async () => {
  const dir = tempDir();
  const path = join(dir, LOCK_FILE);
  writeFileSync(path, "");
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  const lock = await acquireDirLock(dir, captureLogger().logger);
  assert.is(JSON.parse(readFileSync(path, "utf8")).pid, process.pid);
  lock.release();
});

test("a lock written on another host is refused (this host cannot tell if it runs)", async () => {
  const dir = tempDir();
  writeLock(dir, { pid: deadPid(), host: "elsewhere.example" });
  const err = await acquireDirLock(dir, captureLogger().logger).catch((e: unknown) => e);
  assert.instance(err, DataDirLockedError);
  assert.match((err as Error).message, "elsewhere.example");
  assert.match((err as Error).message, "remove");
});

test("release leaves a lock that is no longer ours (taken over meanwhile) in place", async () => {
  const dir = tempDir();
  const lock = await acquireDirLock(dir, captureLogger().logger);
  writeLock(dir, { pid: 424242 });
  lock.release();
  assert.ok(existsSync(join(dir, LOCK_FILE)));
});

test.run();
