/**
 * What the harness started and must not outlive the test process: servers still running and temp
 * dirs still present at exit (a failing test skipped its cleanup) are killed and removed here.
 */
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

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
