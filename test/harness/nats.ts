import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canConnect } from "./ports.js";
import { forget, hasExited, readTail, reapAtExit, removeAtExit, removed, stopChild } from "./reaper.js";
import { waitFor } from "./wait.js";

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "nats-server";
const READY_TIMEOUT_MS = 15_000;
/** After this long a SIGTERM'd server gets SIGKILL, so stop() cannot hang a test. */
const STOP_GRACE_MS = 10_000;

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>`; stays the same across restarts. */
  url: string;
  port: number;
  /** Temp dir holding the JetStream store (`<storeDir>/jetstream`), the ports file and the log. */
  storeDir: string;
  /** Pid of the current server process (changes on restart). */
  readonly pid: number;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash, JetStream must recover from its store on restart. */
  kill9(): Promise<void>;
  /** Start again on the same port and store dir (stopping first if running); resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stop if running and remove the temp store dir. */
  cleanup(): Promise<void>;
  /** The server's log so far, for failure messages. */
  log(): string;
}

export interface NatsServerOptions {
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** Extra nats-server arguments, appended last. */
  args?: string[];
  /** Fixed port; default is one the server picks (-p -1). */
  port?: number;
  /**
   * A server config (`-c`), e.g. a copy of ops/nats/single.conf (see nats-config.ts). Its own
   * store_dir is used (nats-server refuses `-sd` beside one); host, port and a free monitoring port
   * are still set here.
   */
  config?: string;
  /** Environment of the server process over this one's (the passwords a config reads). */
  env?: Record<string, string>;
}


/** The port nats-server wrote to `<dir>/nats-server_<pid>.ports`, once it has. */
function readPortsFile(dir: string, pid: number): number | undefined {
  try {
    const ports = JSON.parse(readFileSync(join(dir, `nats-server_${pid}.ports`), "utf8")) as { nats?: string[] };
    const url = ports.nats?.[0];
    return url ? Number(new URL(url).port) : undefined;
  } catch {
    return undefined; // not written yet, or half-written
  }
}

/** Starts a real, throwaway nats-server and resolves once it accepts connections. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const storeDir = mkdtempSync(join(tmpdir(), "opsbus-nats-"));
  removeAtExit(storeDir);
  const logFile = join(storeDir, "nats-server.log");
  let current: ChildProcess | undefined;
  let lastPid = -1;

  async function launch(port: number): Promise<number> {
    const args = [
      ...(opts.jetstream === false ? [] : ["-js"]),
      ...(opts.config ? ["-c", opts.config, "-m", "-1"] : []),
      ...["-a", "127.0.0.1", "-p", String(port), ...(opts.config ? [] : ["-sd", storeDir]), "--ports_file_dir", storeDir],
      ...(opts.args ?? []),
    ];
    const logFd = openSync(logFile, "a");
    const child = spawn(NATS_SERVER_BIN, args, { stdio: ["ignore", logFd, logFd], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
    closeSync(logFd);
    // A forgotten server must not keep the test process alive; the exit hook kills it instead.
    child.unref();
    child.on("error", () => {}); // e.g. a failed kill(); the exit is what we act on
    if (child.pid === undefined) {
      const [err] = (await once(child, "error")) as [Error];
      throw new Error(`could not run ${NATS_SERVER_BIN} (${err.message}); install nats-server or set NATS_SERVER_BIN`);
    }
    reapAtExit(child, "SIGKILL");
    current = child;
    lastPid = child.pid ?? -1;

    const outcome = await waitFor(
      async () => {
        if (hasExited(child)) return { exited: true as const };
        const found = readPortsFile(storeDir, child.pid as number);
        return found !== undefined && (await canConnect(found)) ? { port: found } : undefined;
      },
      { timeoutMs: READY_TIMEOUT_MS, message: `nats-server (${args.join(" ")}) to accept connections` },
    ).catch(async (err: Error) => {
      await terminate("SIGKILL");
      throw new Error(`${err.message}\n--- nats-server log ---\n${readTail(logFile)}`);
    });
    if ("exited" in outcome) {
      forget(child);
      current = undefined;
      throw new Error(`nats-server exited during startup (${args.join(" ")})\n--- log ---\n${readTail(logFile)}`);
    }
    return outcome.port;
  }

  async function terminate(signal: NodeJS.Signals): Promise<void> {
    const child = current;
    current = undefined;
    if (child) await stopChild(child, signal, STOP_GRACE_MS);
  }

  const port = await launch(opts.port ?? -1);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return lastPid;
    },
    stop: () => terminate("SIGTERM"),
    kill9: () => terminate("SIGKILL"),
    async restart() {
      await terminate("SIGTERM");
      await launch(port);
    },
    async cleanup() {
      await terminate("SIGTERM");
      rmSync(storeDir, { recursive: true, force: true, maxRetries: 3 });
      removed(storeDir);
    },
    log: () => readTail(logFile, Number.MAX_SAFE_INTEGER),
  };
}
