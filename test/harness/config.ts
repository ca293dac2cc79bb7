/** A temp copy of config/ with some policy keys overridden, for child processes that read CONFIG_DIR. */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";

function merge(base: unknown, over: unknown): unknown {
  if (!over || typeof over !== "object" || Array.isArray(over) || !base || typeof base !== "object") return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

/** `{ "alert_routing_policy.yml": { ingest: { ack_wait_seconds: 3 } } }` → a config dir path. */
export function configDirWith(overrides: Record<string, Record<string, unknown>>): string {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-config-"));
  cpSync("config", dir, { recursive: true });
  for (const [file, over] of Object.entries(overrides)) {
    const path = join(dir, file);
    writeFileSync(path, stringify(merge(parse(readFileSync(path, "utf8")) ?? {}, over)));
  }
  return dir;
}
