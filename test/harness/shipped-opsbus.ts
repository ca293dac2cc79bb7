/**
 * opsbus (`start`, JSONL stores, staging) connected as the `opsbus` user to a nats-server running
 * the SHIPPED ops/nats/single.conf users and permissions, for tests of what other users may do.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STORE_ENV_PREFIX } from "../../src/config/env.js";
import { shippedNatsConfig } from "./nats-config.js";
import { startNatsServer, type NatsServerHandle } from "./nats.js";
import { spawnOpsbus, type OpsbusProcess } from "./process.js";
import { removeAtExit } from "./reaper.js";
import { waitFor } from "./wait.js";

export interface ShippedOpsbus {
  nats: NatsServerHandle;
  /** dev.env's passwords by variable (NATS_MONITOR_PASSWORD, …). */
  pw: Record<string, string>;
  opsbus: OpsbusProcess;
  /**
   * Resolves once `ready` (a tool call by the test's own agent client) is true; if opsbus exits or
   * never answers, prints its output and the server's log, then throws.
   */
  up(ready: () => Promise<boolean>): Promise<void>;
  stop(): Promise<void>;
}

/** `apiKeys`: OPSBUS_API_KEYS. Resolves once opsbus is started, not yet answering (see `up`). */
export async function startShippedOpsbus(apiKeys: string): Promise<ShippedOpsbus> {
  const conf = shippedNatsConfig("single.conf");
  const nats = await startNatsServer({ config: conf.path, env: conf.passwords });
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-shipped-"));
  removeAtExit(dataDir);
  const backends = Object.fromEntries(Object.values(STORE_ENV_PREFIX).map((p) => [`${p}_BACKEND`, "jsonl"]));
  const opsbus = spawnOpsbus(["start"], {
    ...backends,
    NATS_URL: nats.url,
    NATS_USER: "opsbus",
    NATS_PASSWORD: conf.passwords.NATS_OPSBUS_PASSWORD!,
    OPS_ENV: "staging",
    OPSBUS_API_KEYS: apiKeys,
    DATA_DIR: dataDir,
    OPSBUS_START_NATS: "0",
  });
  const stop = async () => {
    await opsbus.stop();
    await nats.cleanup();
  };
  const up = async (ready: () => Promise<boolean>) => {
    const state = await waitFor(async () => {
      if (opsbus.child.exitCode !== null) return `opsbus exited (${opsbus.child.exitCode})`;
      return (await ready().catch(() => false)) ? "up" : null;
    }, { timeoutMs: 90_000, intervalMs: 250, message: "opsbus (user opsbus) answers a tool call" }).catch((err: Error) => err.message);
    if (state === "up") return;
    // uvu reports a failed hook without its error: print what explains it.
    console.error(`${state}\n--- opsbus ---\n${opsbus.output()}\n--- nats ---\n${nats.log().slice(-3000)}`);
    throw new Error(state);
  };
  return { nats, pw: conf.passwords, opsbus, up, stop };
}
