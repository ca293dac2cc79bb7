/**
 * opsbus as an Alertmanager for the bench: the gateway role with its HTTP listener (HTTP_PORT,
 * serving `POST /api/v2/alerts`) and one ingest worker, each its own process from dist/, alert
 * store on Postgres. Both can be killed with -9 and started again on the same port and database.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../test/harness/ports.js";
import { waitFor } from "../../test/harness/wait.js";
import { crashGuard, spawnNode, type NodeChild } from "./child.js";
import type { Cleanup } from "./cleanup.js";
import { waitForIngestWorker } from "./e2e.js";

export interface OpsbusIntake {
  url: string;
  gateway: NodeChild;
  worker: NodeChild;
  /** SIGKILL to both at once (synchronously), resolving when both have exited. */
  kill9(): Promise<void>;
  /** New gateway and worker processes on the same port and database; resolves when both are ready. */
  restart(): Promise<void>;
  /** Peak RSS of the current gateway and worker, MB. */
  peakRssMb(): { gateway: number; worker: number };
}

export interface IntakeOptions {
  repoRoot: string;
  tmpRoot: string;
  natsUrl: string;
  dbUrl: string;
  jsm: JetStreamManager;
  cleanup: Cleanup;
  label: string;
  /** Another entry point standing in for `dist/src/cli.js worker gateway` (to measure a change without touching src/). */
  gatewayEntry?: string;
  /** Extra node flags for both processes (e.g. `--cpu-prof`). */
  nodeFlags?: string[];
}

export async function startOpsbusIntake(o: IntakeOptions): Promise<OpsbusIntake> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    NATS_URL: o.natsUrl,
    ALERT_BACKEND: "postgres",
    ALERT_DATABASE_URL: o.dbUrl,
    OPS_ENV: "dev",
    CONFIG_DIR: join(o.repoRoot, "config"),
    LOG_LEVEL: "warn",
    OPSBUS_START_NATS: "0",
  };
  let n = 0;
  // One DATA_DIR per role: a process locks its DATA_DIR; a restart takes over its killed predecessor's.
  const dataDirs = new Map<string, string>();
  const dataDirOf = (role: string) => dataDirs.get(role) ?? dataDirs.set(role, mkdtempSync(join(o.tmpRoot, `data-${o.label}-${role}-`))).get(role)!;
  const spawnRole = (role: string, extra: Record<string, string> = {}) => {
    const child = spawnNode({
      name: `${role} (${o.label} #${n})`,
      args: role === "gateway" && o.gatewayEntry ? [o.gatewayEntry] : ["dist/src/cli.js", "worker", role],
      cwd: o.repoRoot,
      env: { ...env, DATA_DIR: dataDirOf(role), ...extra },
      logFile: join(o.tmpRoot, `${role}-${o.label}-${n}.log`),
      ...(o.nodeFlags ? { nodeFlags: o.nodeFlags } : {}),
    });
    o.cleanup.defer(`stop ${child.name}`, () => child.stop());
    return child;
  };
  const listening = async (gateway: NodeChild) => {
    const guard = crashGuard(gateway);
    try {
      await Promise.race([
        guard.promise,
        waitFor(async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok, { timeoutMs: 60_000, intervalMs: 50, message: `${gateway.name} answering ${url}/-/ready` }),
      ]);
    } finally {
      guard.cancel();
    }
  };
  const start = async () => {
    n += 1;
    const gateway = spawnRole("gateway", { HTTP_PORT: String(port) });
    const worker = spawnRole("alerts-in");
    await Promise.all([listening(gateway), waitForIngestWorker(o.jsm, worker)]);
    return { gateway, worker };
  };
  let current = await start();
  return {
    url,
    get gateway() {
      return current.gateway;
    },
    get worker() {
      return current.worker;
    },
    async kill9() {
      const { gateway, worker } = current;
      for (const c of [gateway, worker]) if (!c.hasExited()) process.kill(c.pid, "SIGKILL");
      await Promise.all([gateway.exited, worker.exited]);
    },
    async restart() {
      current = await start();
    },
    peakRssMb() {
      const peak = (c: NodeChild) => {
        const m = c.memory.read();
        return Math.max(m.peakSampledKb, m.hwmKb) / 1024;
      };
      return { gateway: peak(current.gateway), worker: peak(current.worker) };
    },
  };
}
