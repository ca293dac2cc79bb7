/**
 * The shipped ops/nats configs, runnable by a throwaway nats-server: copied to a temp dir as they
 * are (accounts.conf included beside them), with only the JetStream store moved under that dir and,
 * on a server older than 2.10, the 2.10-only `sync_interval` dropped (2.9 refuses unknown keys).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeAtExit } from "./reaper.js";

const SHIPPED_DIR = "ops/nats";

export interface ShippedConfig {
  /** The copy of the named config, to pass as `startNatsServer({ config })`. */
  path: string;
  /** ops/nats/dev.env: the passwords accounts.conf reads, for the server's environment. */
  passwords: Record<string, string>;
}

function serverOlderThan210(): boolean {
  const out = spawnSync(process.env.NATS_SERVER_BIN ?? "nats-server", ["--version"], { encoding: "utf8" }).stdout ?? "";
  const [major = 0, minor = 0] = (out.match(/v(\d+)\.(\d+)/) ?? []).slice(1).map(Number);
  return major < 2 || (major === 2 && minor < 10);
}

/** ops/nats/dev.env as a map. */
export function devPasswords(): Record<string, string> {
  const lines = readFileSync(join(SHIPPED_DIR, "dev.env"), "utf8").split("\n").filter((l) => /^[A-Z_]+=/.test(l));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

export function shippedNatsConfig(file = "single.conf"): ShippedConfig {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-natsconf-"));
  removeAtExit(dir);
  const dropSyncInterval = serverOlderThan210();
  for (const name of readdirSync(SHIPPED_DIR).filter((f) => f.endsWith(".conf"))) {
    let text = readFileSync(join(SHIPPED_DIR, name), "utf8").replaceAll("/data/jetstream", join(dir, "jetstream"));
    if (dropSyncInterval) text = text.replace(/^\s*sync_interval:.*$/m, "");
    writeFileSync(join(dir, name), text);
  }
  return { path: join(dir, file), passwords: devPasswords() };
}
