/**
 * Runs an opsbus role (or a bench helper) in its own node process, so its memory is its own.
 * Output goes to a log file whose tail is quoted when the child dies or the bench fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync, readFileSync } from "node:fs";
import { sampleRss, type MemoryReading, type RssSampler } from "./rss.js";
import { NODE_FLAGS } from "../../src/util/node-flags.js";

/** After this long a SIGTERM'd child gets SIGKILL. */
const STOP_GRACE_MS = 20_000;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeChild {
  name: string;
  pid: number;
  /** Resolves when the process exits, however it exits. */
  exited: Promise<ChildExit>;
  hasExited(): boolean;
  memory: RssSampler;
  /** SIGTERM (drain), SIGKILL after the grace period; the final memory reading. */
  stop(): Promise<{ exit: ChildExit; memory: MemoryReading }>;
  logTail(chars?: number): string;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export interface SpawnOptions {
  name: string;
  /** Script and arguments; a `.ts` script runs under tsx, a compiled `.js` one under plain node. */
  args: string[];
  cwd: string;
  env: Record<string, string>;
  logFile: string;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
}

/** Keys a bench child must not inherit from the bench's own environment. */
const SCRUBBED_ENV = /^(DATABASE_URL|ALERT_|AUDIT_|NATS_URL$|OPS_|DATA_DIR$|CONFIG_DIR$|LOG_LEVEL$|OPSBUS_)/;

/** Extra node flags a bench takes from an environment variable, space-separated (diagnostics: `--require <file>`, heap flags). */
export function nodeFlagsFromEnv(name: string): string[] {
  return (process.env[name] ?? "").split(" ").filter(Boolean);
}

export function spawnNode(opts: SpawnOptions): NodeChild {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SCRUBBED_ENV.test(k)));
  const fd = openSync(opts.logFile, "a");
  const loader = opts.args[0]?.endsWith(".ts") ? ["--import", "tsx"] : [];
  // Started as the Docker image starts opsbus (NODE_FLAGS), then the bench's own flags.
  const child = spawn(process.execPath, [...NODE_FLAGS, ...(opts.nodeFlags ?? []), ...loader, ...opts.args], {
    cwd: opts.cwd,
    env: { ...inherited, ...opts.env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${opts.name}`);
  live.add(child);
  const exited = once(child, "exit").then(([code, signal]) => {
    live.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  const memory = sampleRss(child.pid);
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const logTail = (chars = 3000) => {
    try {
      return readFileSync(opts.logFile, "utf8").slice(-chars);
    } catch {
      return "(no output)";
    }
  };
  return {
    name: opts.name,
    pid: child.pid,
    exited,
    hasExited,
    memory,
    logTail,
    async stop() {
      const reading = memory.stop();
      if (!hasExited()) {
        child.kill("SIGTERM");
        const escalate = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(escalate);
      }
      return { exit: await exited, memory: reading };
    },
  };
}

/** Rejects as soon as `child` exits: race it against a wait so a crash fails fast with its log. */
export function crashGuard(child: NodeChild): { promise: Promise<never>; cancel(): void } {
  let cancelled = false;
  const promise = child.exited.then((e) => {
    if (cancelled) return new Promise<never>(() => {});
    throw new Error(`${child.name} (pid ${child.pid}) exited unexpectedly (code ${e.code}, signal ${e.signal})\n--- ${child.name} output ---\n${child.logTail()}`);
  });
  promise.catch(() => {}); // observed by whoever races it
  return { promise, cancel: () => void (cancelled = true) };
}
