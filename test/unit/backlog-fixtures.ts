/** Shared by the backlog unit tests: a digest on disk, the tool called directly with a fixed clock. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BacklogPolicy } from "../../src/config/backlog-policy.js";
import { OpsError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import type { BacklogStore } from "../../src/backlog/store.js";
import { createBacklogTool } from "../../src/tools/backlog-tool.js";
import { tmpDir } from "./incident-fixtures.js";

export const NOW = new Date("2026-03-10T12:00:00.000Z"); // ISO week 2026-11
export const WEEK = "2026-11";
export const DAY_MS = 86_400_000;

export type DigestEntry = { service: string; env?: string; score?: number; band?: string; requires_arch_review?: boolean; factors?: Record<string, unknown> };

export function writeDigest(reportsDir: string, week: string, services: DigestEntry[], extra: Record<string, unknown> = {}): string {
  const dir = join(reportsDir, "platform");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${week}.json`);
  writeFileSync(file, JSON.stringify({ week, generated_at: NOW.toISOString(), services, ...extra }));
  return file;
}

export function policy(over: Record<string, unknown> = {}): BacklogPolicy {
  return BacklogPolicy.parse(over);
}

/** The tool over `store`, called as `agent` at `clock.now`; params go through the action's schema. */
export function toolHarness(store: BacklogStore, pol: BacklogPolicy = policy()) {
  const reportsDir = tmpDir("reports");
  const tool = createBacklogTool({ backlog: store, policy: pol, reportsDir });
  const clock = { ms: NOW.getTime() };
  const logger = createLogger({ level: "silent" });
  async function call<T = Record<string, unknown>>(action: string, params: Record<string, unknown> = {}, agent = "sofiia"): Promise<T> {
    const def = tool.actions[action];
    if (!def) throw new Error(`no action ${action}`);
    const caller = { agent_id: agent, role: "agent_cto", entitlements: new Set<string>(), authenticated: false, channel: "test" };
    return (await def.handler(def.params.parse(params), { caller, logger, signal: new AbortController().signal, now: () => new Date(clock.ms) })) as T;
  }
  async function error(action: string, params: Record<string, unknown> = {}): Promise<OpsError> {
    const err = await call(action, params).then(() => undefined, (e: unknown) => e);
    if (!(err instanceof OpsError)) throw new Error(`expected an OpsError from ${action}, got ${String(err)}`);
    return err;
  }
  return { tool, reportsDir, clock, call, error };
}
