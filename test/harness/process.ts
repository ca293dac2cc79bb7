/** Runs an opsbus CLI command as a child process, so tests can kill -9 it like a real crash. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { reapAtExit } from "./reaper.js";

export interface OpsbusProcess {
  child: ChildProcess;
  output(): string;
  kill9(): Promise<void>;
  /** SIGTERM and wait: the drain path. */
  stop(): Promise<number | null>;
}

/** `entry` is another script for processes the CLI cannot start, e.g. test/harness/job-runner-main.ts (a runner with test_tool). */
export function spawnOpsbus(args: string[], env: Record<string, string>, entry = "src/cli.ts"): OpsbusProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    // Test files run two at a time: a worker yielding the CPU to the other file's processes would
    // only slow its own test down (test/integration/process-metrics.test.ts checks that it yields).
    env: { ...process.env, LOG_LEVEL: "warn", OPSBUS_INGEST_NICE: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  reapAtExit(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => out,
    async kill9() {
      if (exited()) return;
      const done = once(child, "exit");
      child.kill("SIGKILL");
      await done;
    },
    async stop() {
      if (!exited()) {
        const done = once(child, "exit");
        child.kill("SIGTERM");
        await done;
      }
      return child.exitCode;
    },
  };
}
