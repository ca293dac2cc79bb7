/** The job ledger, the runner and the scheduler, wired from the process context. */
import { checkTasksAgainstTools, type TaskRegistry } from "../config/jobs-policy.js";
import { JobRunner } from "../jobs/runner.js";
import type { ToolRegistry } from "../tools/types.js";
import * as jobsWorker from "../workers/jobs.js";
import * as schedulerWorker from "../workers/scheduler.js";
import type { RunningWorker } from "../workers/types.js";
import type { Ctx } from "./context.js";
import { appDeps } from "./deps.js";
import { holdGateway, taskGatewayOf } from "./gateway.js";
import { jobRunsOf } from "./job-runs.js";

export { jobRunsOf };

export interface JobRunnerOptions {
  /** Tests inject a registry with test-only tools; production uses the process's registry. */
  registry?: ToolRegistry;
  tasks?: TaskRegistry;
}

export async function startJobs(ctx: Ctx, opts: JobRunnerOptions = {}): Promise<RunningWorker> {
  const logger = ctx.logger.child({ worker: "jobs" });
  const tasks = opts.tasks ?? appDeps(ctx).tasks();
  const held = holdGateway(ctx, "jobs", opts.registry);
  const { gateway } = held;
  const registry = gateway.registry;
  const stopping = new AbortController();
  try {
    checkTasksAgainstTools(tasks, registry, ctx.env.TASK_REGISTRY);
    const runner = new JobRunner({
      runs: jobRunsOf(ctx, logger, tasks),
      gateway: taskGatewayOf(gateway),
      nodeId: ctx.env.NODE_ID,
      holder: `jobs@${ctx.env.NODE_ID}:${process.pid}`,
      stopping: stopping.signal,
    });
    const minLease = Math.min(...[...tasks.values()].map((t) => t.lease_seconds), 60);
    const worker = await jobsWorker.start({
      runner,
      js: ctx.js,
      subjects: ctx.subjects,
      features: ctx.features,
      logger: ctx.logger,
      now: ctx.now,
      sweepIntervalMs: Math.min(30_000, Math.max(500, (minLease * 1000) / 2)),
      ...(ctx.metrics ? { metrics: ctx.metrics } : {}),
    });
    logger.info({ tasks: tasks.size }, "job tasks loaded");
    return {
      ...worker,
      async stop() {
        stopping.abort();
        await worker.stop();
        await held.release();
      },
    };
  } catch (err) {
    await held.release();
    throw err;
  }
}

export interface SchedulerOptions {
  tasks?: TaskRegistry;
}

export function startScheduler(ctx: Ctx, opts: SchedulerOptions = {}): Promise<RunningWorker> {
  const tasks = opts.tasks ?? appDeps(ctx).tasks();
  return schedulerWorker.start({
    tasks: [...tasks.values()].filter((t) => t.enabled),
    runs: jobRunsOf(ctx, ctx.logger.child({ worker: "scheduler" }), tasks),
    logger: ctx.logger,
    name: `${ctx.env.NODE_ID}:${process.pid}`,
    now: ctx.now,
  });
}
