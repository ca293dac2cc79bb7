/** Test-only pieces for the job runner: a controllable tool, a registry file, a runner with both. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { stringify } from "yaml";
import { z } from "zod";
import type { Ctx } from "../../src/app/context.js";
import { OpsError } from "../../src/errors.js";
import { buildToolRegistry } from "../../src/app/tools.js";
import { action, type ToolDef, type ToolRegistry } from "../../src/tools/types.js";
import { startJobs } from "../../src/app/jobs.js";

export interface HoldCall {
  params: Record<string, unknown>;
  agent: string;
  aborted?: boolean;
}

/**
 * `test_tool.work`: returns at once, or while the file `hold` exists keeps waiting (until its
 * AbortSignal fires); `fail: true` answers `conflict`. Calls are recorded in `calls`.
 */
export function holdTool(calls: HoldCall[] = []): ToolDef {
  return {
    name: "test_tool",
    description: "test-only: a controllable action",
    actions: {
      work: action({
        entitlement: "tools.jobs.run",
        description: "waits while the hold file exists",
        params: z.strictObject({ hold: z.string().optional(), fail: z.boolean().default(false), dry_run: z.boolean().default(false), tag: z.string().optional() }),
        async handler(p, h) {
          const call: HoldCall = { params: p, agent: h.caller.agent_id };
          calls.push(call);
          while (p.hold && existsSync(p.hold)) {
            if (h.signal.aborted) {
              call.aborted = true;
              throw h.signal.reason;
            }
            await delay(20);
          }
          if (p.fail) throw new OpsError("conflict", "asked to fail");
          return { done: true, dry_run: p.dry_run, tag: p.tag ?? null };
        },
      }),
    },
  };
}

/** Writes a task registry YAML to a temp file; returns its path. */
export function writeTaskRegistry(doc: Record<string, unknown>): string {
  const path = join(mkdtempSync(join(tmpdir(), "opsbus-tasks-")), "task_registry.yml");
  writeFileSync(path, stringify(doc));
  return path;
}

/** A hold file that exists until `release()`. */
export function holdFile(): { path: string; release(): void } {
  const path = join(mkdtempSync(join(tmpdir(), "opsbus-hold-")), "hold");
  writeFileSync(path, "");
  return { path, release: () => rmSync(path, { force: true }) };
}

/** The production registry plus test_tool. */
export function registryWithHoldTool(ctx: Ctx, calls: HoldCall[] = []): ToolRegistry {
  return buildToolRegistry(ctx, { logger: ctx.logger, extraTools: [holdTool(calls)] });
}

export function startRunnerWithHoldTool(ctx: Ctx, calls: HoldCall[] = []) {
  return startJobs(ctx, { registry: registryWithHoldTool(ctx, calls) });
}
