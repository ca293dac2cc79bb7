/** The job ledger's run creation and triggers, from the process context (jobs_tool, runner, scheduler). */
import type { TaskRegistry } from "../config/jobs-policy.js";
import { JobRuns } from "../jobs/runs.js";
import type { Logger } from "../log.js";
import type { Ctx } from "./context.js";
import { appDeps } from "./deps.js";

/** JobRuns over the context's ledger, with the process's task registry unless given. */
export function jobRunsOf(ctx: Ctx, logger: Logger, tasks?: TaskRegistry): JobRuns {
  return new JobRuns({
    store: ctx.stores.jobs,
    tasks: tasks ?? appDeps(ctx).tasks(),
    js: ctx.js,
    subjects: ctx.subjects,
    events: appDeps(ctx).events,
    logger,
    now: ctx.now,
  });
}
