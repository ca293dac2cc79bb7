/**
 * The task registry (`ops/task_registry.yml`): the only schedule. Validated with zod at start-up;
 * errors name the file, the path, the bad value and what is allowed. Checking each task's
 * tool/action against the tools a process serves is separate (`checkTasksAgainstTools`), because
 * only the job runner has the tool registry at hand.
 */
import { existsSync, readFileSync } from "node:fs";
import { Cron } from "croner";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";
import { ConfigError, formatIssues } from "./errors.js";

export const DEFAULT_TASK_REGISTRY = "ops/task_registry.yml";

/** Named bounds of the registry. */
export const TASK_BOUNDS = {
  /** The OPS_JOBS duplicate window is longer than this, so a catch-up trigger is deduped too. */
  maxCatchupWindowMinutes: 6 * 60,
  minLeaseSeconds: 2,
  maxLeaseSeconds: 3600,
} as const;

/** How a task's action is run dry: `param` passes `dry_run: true`; `unsupported` records a skip. */
export const DRY_RUN_MODES = ["param", "unsupported"] as const;
/** The period a required task's success must fall in, relative to the dependent slot (UTC). */
export const REQUIRE_PERIODS = ["iso_week", "utc_day", "utc_hour"] as const;

const TaskId = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "a lowercase id such as weekly_backlog_generate");

const CronExpr = z.string().superRefine((expr, ctx) => {
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    ctx.addIssue({ code: "custom", message: "cron needs 5 fields (min hour dom mon dow) or 6 (with seconds first), UTC" });
    return;
  }
  try {
    new Cron(expr, { timezone: "UTC", paused: true });
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a valid cron expression: ${(err as Error).message}` });
  }
});

const Requirement = z.strictObject({
  task: TaskId,
  within: z.enum(REQUIRE_PERIODS).default("iso_week"),
});

const Defaults = z.strictObject({
  service_account: z.string().min(1).default("scheduler"),
  catchup_window_minutes: z.number().int().min(0).max(TASK_BOUNDS.maxCatchupWindowMinutes).default(90),
  lease_seconds: z.number().int().min(TASK_BOUNDS.minLeaseSeconds).max(TASK_BOUNDS.maxLeaseSeconds).default(120),
});

const TaskInput = z.strictObject({
  id: TaskId,
  description: z.string().default(""),
  cron: CronExpr,
  tool: z.string().min(1),
  action: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()).default({}),
  service_account: z.string().min(1).optional(),
  enabled: z.boolean().default(true),
  dry_run: z.enum(DRY_RUN_MODES).default("param"),
  requires: z.array(Requirement).default([]),
  /** `skip`: a slot that comes while a run of the task is running is recorded as skipped. */
  overlap: z.enum(["skip", "allow"]).default("skip"),
  catchup_window_minutes: z.number().int().min(0).max(TASK_BOUNDS.maxCatchupWindowMinutes).optional(),
  lease_seconds: z.number().int().min(TASK_BOUNDS.minLeaseSeconds).max(TASK_BOUNDS.maxLeaseSeconds).optional(),
});

export const TaskRegistryFile = z.strictObject({
  defaults: Defaults.default(Defaults.parse({})),
  tasks: z.array(TaskInput).default([]),
});

export type TaskRequirement = z.infer<typeof Requirement>;
/** A task with the registry defaults applied. */
export type TaskDef = Omit<z.infer<typeof TaskInput>, "service_account" | "catchup_window_minutes" | "lease_seconds"> & {
  service_account: string;
  catchup_window_minutes: number;
  lease_seconds: number;
};
export type TaskRegistry = ReadonlyMap<string, TaskDef>;

/** Validates a parsed registry document; `file` names it in errors. */
export function parseTaskRegistry(raw: unknown, file = DEFAULT_TASK_REGISTRY): TaskRegistry {
  const parsed = TaskRegistryFile.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(file, formatIssues(parsed.error.issues, raw));
  const { defaults, tasks } = parsed.data;
  const problems: string[] = [];
  const out = new Map<string, TaskDef>();
  tasks.forEach((t, i) => {
    if (out.has(t.id)) problems.push(`at tasks.${i}.id: got "${t.id}"; task ids must be unique`);
    out.set(t.id, {
      ...t,
      service_account: t.service_account ?? defaults.service_account,
      catchup_window_minutes: t.catchup_window_minutes ?? defaults.catchup_window_minutes,
      lease_seconds: t.lease_seconds ?? defaults.lease_seconds,
    });
  });
  tasks.forEach((t, i) =>
    t.requires.forEach((r, j) => {
      if (!out.has(r.task)) problems.push(`at tasks.${i}.requires.${j}.task: got "${r.task}"; allowed: ${[...out.keys()].join(", ")}`);
      if (r.task === t.id) problems.push(`at tasks.${i}.requires.${j}.task: a task cannot require itself`);
    }),
  );
  if (problems.length) throw new ConfigError(file, problems);
  return out;
}

export function loadTaskRegistry(path = DEFAULT_TASK_REGISTRY): TaskRegistry {
  if (!existsSync(path)) throw new ConfigError(path, ["file not found (set TASK_REGISTRY to the task registry path)"]);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(path, [`not valid YAML: ${err instanceof YAMLParseError ? err.message : String(err)}`]);
  }
  return parseTaskRegistry(raw, path);
}

/** Refuses tasks naming a tool or action the given tools do not serve. */
export function checkTasksAgainstTools(tasks: TaskRegistry, tools: ReadonlyMap<string, { actions: Record<string, unknown> }>, file = DEFAULT_TASK_REGISTRY): void {
  const problems: string[] = [];
  for (const t of tasks.values()) {
    const tool = tools.get(t.tool);
    if (!tool) problems.push(`task ${t.id}: unknown tool "${t.tool}"; known tools: ${[...tools.keys()].sort().join(", ")}`);
    else if (!Object.hasOwn(tool.actions, t.action)) {
      problems.push(`task ${t.id}: unknown action ${t.tool}.${t.action}; actions: ${Object.keys(tool.actions).join(", ")}`);
    }
  }
  if (problems.length) throw new ConfigError(file, problems);
}
