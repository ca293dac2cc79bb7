/**
 * `jobs_tool`: start a task by hand (idempotent by run_token; a failed/canceled run can be re-run),
 * cancel (best-effort, idempotent), read the task registry (with each task's latest run) and runs,
 * export the ledger. Runs execute in the job runner (`opsbus worker jobs`), so start_task answers
 * with the queued run at once.
 *
 * Dry runs: `dry_run: true` runs the task's action with `dry_run: true` added to its params when
 * the registry says the action supports it (`dry_run: param`): the action plans and writes
 * nothing. For `dry_run: unsupported` the run is recorded as skipped (dry_run_unsupported).
 */
import { z } from "zod";
import { exportLedger, EXPORT_BOUNDS } from "../jobs/export.js";
import type { JobRuns } from "../jobs/runs.js";
import { notFound } from "../errors.js";
import { JOB_STATUSES, type JobRun } from "../jobs/ledger-store.js";
import { cronOf, nextSlot } from "../jobs/slots.js";
import { action, type ToolDef } from "./types.js";

/** What list_tasks says of a task's latest run: enough for its state, not its outputs. */
const lastRunOf = (r: JobRun) => ({
  id: r.id, status: r.status, trigger: r.trigger, requested_by: r.requested_by, created_at: r.created_at,
  ...(r.finished_at ? { finished_at: r.finished_at } : {}), ...(r.error_message ? { error_message: r.error_message } : {}),
});

const isoTime = z.iso.datetime({ offset: true });
const RunId = z.string().min(1).describe("the run's id, as start_task or list_runs answered it");
const RUN = "tools.jobs.run";
const READ = "tools.jobs.read";

export function createJobsTool(runs: JobRuns): ToolDef {
  const store = runs.d.store;
  const taskIds = [...runs.d.tasks.keys()];
  // start_task refuses an unknown task with not_found (naming the tasks); the schema names them up front.
  const TaskId = z.string().min(1).meta(taskIds.length ? { enum: taskIds } : {});
  return {
    name: "jobs_tool",
    description: "Governance job runs: start a task of ops/task_registry.yml, cancel, read runs, export the run ledger.",
    actions: {
      start_task: action({
        entitlement: RUN,
        description:
          "Queues a run of a task (inputs merged over the task's). The same run_token returns the same run; rerun_of repeats a failed or canceled run (same slot and inputs). dry_run: the action plans and writes nothing.",
        params: z.strictObject({
          task_id: TaskId.optional().describe("a task of ops/task_registry.yml; required unless rerun_of is given"),
          inputs: z.record(z.string(), z.unknown()).default({}).describe("inputs merged over the task's own (ops/task_registry.yml); default none"),
          run_token: z.string().min(1).max(200).optional().describe("idempotency key: the same token answers the same run instead of queuing another"),
          dry_run: z.boolean().default(false).describe("the action plans and writes nothing (skipped when the task does not support it); default false"),
          rerun_of: z.string().min(1).optional().describe("the run_id of a failed or canceled run to repeat with its slot and inputs"),
        }).refine((p) => p.task_id !== undefined || p.rerun_of !== undefined, "task_id is required (or rerun_of)"),
        async handler(p, h) {
          const { run, created } = await runs.startManual({
            task_id: p.task_id ?? "", inputs: p.inputs, dry_run: p.dry_run, requested_by: h.caller.agent_id,
            ...(p.run_token !== undefined ? { run_token: p.run_token } : {}), ...(p.rerun_of !== undefined ? { rerun_of: p.rerun_of } : {}),
          });
          return { run, created };
        },
      }),
      cancel: action({
        entitlement: RUN,
        description: "Cancels a run: a queued one at once, a running one when its runner next renews its lease. Idempotent; a finished run is returned unchanged.",
        params: z.strictObject({ run_id: RunId }),
        handler: async (p) => ({ run: await runs.cancel(p.run_id) }),
      }),
      list_tasks: action({
        entitlement: READ,
        description: "The task registry (ops/task_registry.yml): each task's schedule, tool action and whether it is enabled, with its next slot and its latest run.",
        params: z.strictObject({}),
        async handler(_p, h) {
          const now = h.now();
          const tasks = await Promise.all(
            [...runs.d.tasks.values()].map(async (t) => {
              const [last] = await store.list({ task_id: t.id, limit: 1 });
              const next = t.enabled ? nextSlot(cronOf(t.cron), now) : null;
              return {
                id: t.id, description: t.description, cron: t.cron, tool: t.tool, action: t.action, enabled: t.enabled, dry_run: t.dry_run,
                overlap: t.overlap, requires: t.requires, service_account: t.service_account,
                ...(next ? { next_slot: next.toISOString() } : {}),
                last_run: last ? lastRunOf(last) : null,
              };
            }),
          );
          return { tasks, count: tasks.length };
        },
      }),
      get_run: action({
        entitlement: READ,
        description: "One run with its status transitions.",
        params: z.strictObject({ run_id: RunId }),
        async handler(p) {
          const run = await store.get(p.run_id);
          if (!run) throw notFound(`run ${p.run_id} not found`);
          return { run };
        },
      }),
      list_runs: action({
        entitlement: READ,
        description: "Runs, newest first, filtered by task, status and created_at window.",
        params: z.strictObject({
          task_id: z.string().min(1).optional().describe("only runs of this task id; default all"),
          status: z.array(z.enum(JOB_STATUSES)).optional().describe("only runs in these statuses; default all"),
          since: isoTime.optional().describe("only runs created at or after this instant, ISO 8601 with offset"),
          until: isoTime.optional().describe("only runs created before this instant, ISO 8601 with offset"),
          limit: z.number().int().min(1).max(1000).default(50).describe("most runs answered (1–1000); default 50"),
        }),
        async handler(p) {
          const list = await store.list(Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)));
          return { runs: list, count: list.length };
        },
      }),
      export: action({
        entitlement: READ,
        description: "NDJSON of the runs created in [since, until) with their transitions, and a manifest with its sha256.",
        params: z.strictObject({
          since: isoTime.describe("first instant of the window (inclusive), ISO 8601 with offset"),
          until: isoTime.describe("end of the window (exclusive), ISO 8601 with offset"),
          limit: z
            .number()
            .int()
            .min(1)
            .max(EXPORT_BOUNDS.maxRuns)
            .default(EXPORT_BOUNDS.defaultRuns)
            .describe(`most runs exported (1–${EXPORT_BOUNDS.maxRuns}); default ${EXPORT_BOUNDS.defaultRuns}`),
        }),
        handler: (p, h) => exportLedger(store, p, h.now()),
      }),
    },
  };
}
