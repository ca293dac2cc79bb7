import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { createConnection } from "node:net";
import type { Logger } from "../log.js";

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
 * For `npm start` on a laptop: when nothing answers at NATS_URL and a nats-server binary is on
 * PATH, run one with JetStream storing under DATA_DIR/nats. It lives as long as this process.
 */
export async function ensureLocalNats(url: string, dataDir: string, logger: Logger): Promise<ChildProcess | null> {
  const first = url.split(",")[0] ?? url;
  const { hostname, port: portText } = new URL(first.replace(/^nats:/, "http:"));
  const port = Number(portText || 4222);
  if (await portAnswers(hostname, port)) return null;
  if (!["127.0.0.1", "localhost", "::1"].includes(hostname)) return null;
  if (!natsServerOnPath()) {
    throw new Error(
      `no NATS server answers at ${first} and no nats-server binary is on PATH. ` +
        "Install one (Debian/Ubuntu: apt-get install nats-server; macOS: brew install nats-server) or set NATS_URL.",
    );
  }
  const storeDir = resolve(join(dataDir, "nats"));
  mkdirSync(storeDir, { recursive: true });
  const logFile = join(storeDir, "nats-server.log");
  const log = openSync(logFile, "a");
  const child = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], {
    stdio: ["ignore", log, log],
  });
  process.once("exit", () => child.kill("SIGTERM"));
  for (let i = 0; i < 100; i++) {
    if (await portAnswers("127.0.0.1", port, 200)) {
      logger.info({ port, storeDir, pid: child.pid, log: logFile }, "started a local nats-server with JetStream");
      return child;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`a local nats-server was started on port ${port} but does not answer; see ${logFile}`);
}
