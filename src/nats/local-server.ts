import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { createConnection } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log.js";
import { identityOf, pidExists, procName, stillRunning, type ProcessIdentity } from "../util/proc.js";

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function portAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const sock = createConnection({ host, port });
    const finish = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(timeoutMs, () => finish(false));
    sock.once("connect", () => finish(true));
    sock.once("error", () => finish(false));
  });
}

export function natsServerOnPath(): boolean {
  return spawnSync("nats-server", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Node cannot ask the kernel to kill a child when the parent dies (no PDEATHSIG), so nats-server
 * runs under this watchdog shell: its stdin is a pipe only the opsbus process holds, and `read`
 * sees EOF when that process ends however it ends (kill -9 included); the shell then stops
 * nats-server and waits for it.
 */
const WATCHDOG = `nats-server "$@" </dev/null &
child=$!
while read -r _; do :; done
kill -TERM "$child" 2>/dev/null
wait "$child"`;

const STOP_GRACE_MS = 10_000;

export interface LocalNats {
  /** nats-server's own pid (the watchdog shell is its parent). */
  pid: number | null;
  /** Stops nats-server and waits until it has exited. */
  stop(): Promise<void>;
}

interface Owner extends ProcessIdentity {
  host: string;
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function readOwner(file: string): Owner | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Owner;
  } catch {
    return null;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (pidExists(pid)) {
    if (Date.now() >= until) return false;
    await sleep(50);
  }
  return true;
}

/**
 * A server answering on our port that an earlier opsbus started from this DATA_DIR and left
 * behind when it died (before the watchdog, or the watchdog itself killed): reusing it silently
 * would tie this process to a server nobody stops. Stopped here, so a fresh, owned one replaces it.
 * Returns false when the server is not such an orphan (someone else's, or a live opsbus's).
 */
async function replaceOrphan(storeDir: string, port: number, logger: Logger): Promise<boolean> {
  const pid = readPid(join(storeDir, "nats-server.pid"));
  const owner = readOwner(join(storeDir, "nats-server.owner"));
  if (!pid || !owner || !pidExists(pid)) return false;
  if (owner.host === hostname() && stillRunning(owner)) {
    logger.info({ port, nats_pid: pid, owner_pid: owner.pid }, "using the nats-server another running opsbus started from this DATA_DIR");
    return false;
  }
  if (procName(pid) !== "nats-server") {
    logger.error({ port, nats_pid: pid, owner_pid: owner.pid }, `a server on port ${port} was left by opsbus pid ${owner.pid}, which is gone; cannot confirm pid ${pid} is it, so it is reused and will NOT stop with this process`);
    return false;
  }
  logger.error({ port, nats_pid: pid, owner_pid: owner.pid }, `an orphaned nats-server (pid ${pid}) left by opsbus pid ${owner.pid} still serves port ${port}; stopping it and starting one this process owns`);
  process.kill(pid, "SIGTERM");
  if (!(await waitGone(pid, STOP_GRACE_MS))) process.kill(pid, "SIGKILL");
  await waitGone(pid, STOP_GRACE_MS);
  return true;
}

/**
 * For `npm start` on a laptop: when nothing answers at NATS_URL and a nats-server binary is on
 * PATH, run one with JetStream storing under DATA_DIR/nats. It lives exactly as long as this
 * process (see WATCHDOG); one left over from an earlier run is replaced, not silently reused.
 */
export async function ensureLocalNats(url: string, dataDir: string, logger: Logger): Promise<LocalNats | null> {
  const first = url.split(",")[0] ?? url;
  const { hostname: host, port: portText } = new URL(first.replace(/^nats:/, "http:"));
  const port = Number(portText || 4222);
  const local = ["127.0.0.1", "localhost", "::1"].includes(host);
  const storeDir = resolve(join(dataDir, "nats"));
  if (await portAnswers(host, port)) {
    if (!local || !(await replaceOrphan(storeDir, port, logger))) return null;
  }
  if (!local) return null;
  if (!natsServerOnPath()) {
    throw new Error(
      `no NATS server answers at ${first} and no nats-server binary is on PATH. ` +
        "Install one (Debian/Ubuntu: apt-get install nats-server; macOS: brew install nats-server) or set NATS_URL.",
    );
  }
  mkdirSync(storeDir, { recursive: true });
  const logFile = join(storeDir, "nats-server.log");
  const pidFile = join(storeDir, "nats-server.pid");
  const ownerFile = join(storeDir, "nats-server.owner");
  rmSync(pidFile, { force: true });
  const log = openSync(logFile, "a");
  const args = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir, "-P", pidFile];
  // detached: its own process group, so a Ctrl-C or a group kill meant for opsbus does not take the
  // bus down under the drain; the watchdog stops it once opsbus has finished.
  const watchdog = spawn("sh", ["-c", WATCHDOG, "opsbus-nats-watchdog", ...args], { stdio: ["pipe", log, log], detached: true });
  writeFileSync(ownerFile, JSON.stringify({ ...identityOf(process.pid), host: hostname() } satisfies Owner));
  for (let i = 0; i < 100; i++) {
    if (await portAnswers("127.0.0.1", port, 200)) {
      const pid = readPid(pidFile);
      logger.info({ port, storeDir, pid, watchdog_pid: watchdog.pid, log: logFile }, "started a local nats-server with JetStream (stops with this process)");
      return { pid, stop: () => stopLocal(watchdog, pid, ownerFile) };
    }
    if (watchdog.exitCode !== null) break;
    await sleep(100);
  }
  await stopLocal(watchdog, readPid(pidFile), ownerFile);
  throw new Error(`a local nats-server was started on port ${port} but does not answer; see ${logFile}`);
}

async function stopLocal(watchdog: ChildProcess, pid: number | null, ownerFile: string): Promise<void> {
  if (watchdog.exitCode === null && watchdog.signalCode === null) {
    const exited = once(watchdog, "exit");
    watchdog.stdin?.end(); // EOF: the watchdog stops nats-server and waits for it
    const timer = sleep(STOP_GRACE_MS, "timeout" as const, { ref: false });
    if ((await Promise.race([exited, timer])) === "timeout") {
      if (pid && pidExists(pid)) process.kill(pid, "SIGKILL");
      watchdog.kill("SIGKILL");
    }
  }
  rmSync(ownerFile, { force: true });
}
