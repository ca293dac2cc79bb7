/**
 * A third-party server binary (Prometheus, vmalert) for integration tests: started with its output
 * in a log file under its temp dir, ready once `readyUrl` answers 2xx, stopped with SIGTERM, its dir
 * removed. Reaped if the test process dies first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { hasExited, readTail, reapAtExit, removed, stopChild } from "./reaper.js";
import { waitFor } from "./wait.js";

export interface Daemon {
  log(): string;
  stop(): Promise<void>;
}

/** `dir`: the daemon's temp dir (already `removeAtExit`); `hint`: what to install when the binary is missing. */
export async function startDaemon(o: { bin: string; args: string[]; dir: string; readyUrl: string; hint: string }): Promise<Daemon> {
  const logFile = join(o.dir, "daemon.log");
  const fd = openSync(logFile, "a");
  const child: ChildProcess = spawn(o.bin, o.args, { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.on("error", () => {}); // a missing binary shows as an exit below
  reapAtExit(child, "SIGKILL");
  const log = () => readTail(logFile);
  await waitFor(
    async () => {
      if (hasExited(child) || child.pid === undefined) throw new Error(`${o.bin} exited (${o.hint})`);
      return (await fetch(o.readyUrl, { signal: AbortSignal.timeout(1000) })).ok;
    },
    { timeoutMs: 30_000, intervalMs: 100, message: `${o.bin} ${o.args.join(" ")} to be ready` },
  ).catch((err: Error) => {
    child.kill("SIGKILL");
    throw new Error(`${err.message}\n--- ${o.bin} log ---\n${log()}`);
  });
  let stopped = false;
  return {
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(child, "SIGTERM", 10_000);
      rmSync(o.dir, { recursive: true, force: true, maxRetries: 3 });
      removed(o.dir);
    },
  };
}
