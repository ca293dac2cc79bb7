/**
 * What the harness started and must not outlive the test process: servers still running and temp
 * dirs still present at exit (a failing test skipped its cleanup) are killed and removed here.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";

const children = new Map<ChildProcess, NodeJS.Signals>();
const dirs = new Set<string>();

process.on("exit", () => {
  for (const [child, signal] of children) child.kill(signal);
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // a server may still be writing as it dies; a stray temp dir is harmless
    }
  }
});

/** Kill `child` with `signal` if it is still running when the test process exits. */
export function reapAtExit(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  children.set(child, signal);
  child.once("exit", () => children.delete(child));
}

export function forget(child: ChildProcess): void {
  children.delete(child);
}

export function removeAtExit(dir: string): void {
  dirs.add(dir);
}

export function removed(dir: string): void {
  dirs.delete(dir);
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Stops a server the harness started: forgets it for the exit reaper, sends `signal`, escalates to
 * SIGKILL after `graceMs`, and resolves once it has exited.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  forget(child);
  if (hasExited(child)) return;
  child.ref(); // keep the event loop alive while we wait for the exit
  const exited = once(child, "exit");
  child.kill(signal);
  const escalate = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(escalate);
}

/** The end of a server's log file, for failure messages. */
export function readTail(file: string, chars = 4000): string {
  try {
    return readFileSync(file, "utf8").slice(-chars);
  } catch {
    return "(no log)";
  }
}
