/**
 * Job runner: consumes the job triggers (subjects.jobs) on the durable `jobs` consumer and runs each task
 * through the gateway's tool registry, RBAC, limits and audit (see src/jobs/runner.ts). A trigger
 * is acked once its run is recorded and settled or started; from then on the ledger lease guards
 * the run, and a sweep marks runs whose runner died `failed` (abandoned) once the lease expires
 * and re-runs a scheduled slot so it still gets its one successful run.
 */
import { checkTasksAgainstTools, loadTaskRegistry, type TaskRegistry } from "../config/jobs-policy.js";
import type { Ctx } from "../app/context.js";
import { AuditWriter } from "../gateway/index.js";
import { deadLetterPath } from "../util/dead-letter.js";
import { countingAudit } from "../observability/metrics/opsbus.js";
import { JobRunner } from "../jobs/runner.js";
import { jobRunsOf } from "../jobs/runs.js";
import { buildToolRegistry } from "../app/tools.js";
import type { JobRun } from "../jobs/ledger-store.js";
import type { ToolRegistry } from "../tools/types.js";
import { retryTransient } from "../util/transient.js";
import { consumeEach, type MessageHelpers } from "../nats/consumer.js";
import type { RunningWorker } from "./types.js";

const dec = new TextDecoder();
const FINAL = new Set(["succeeded", "failed", "canceled", "skipped"]);

/** Counts a run this trigger finished (a redelivered trigger finds it finished earlier: not counted). */
function countRun(ctx: Ctx, run: JobRun | undefined, handledFrom: string): void {
  if (!ctx.metrics || !run || !FINAL.has(run.status) || run.updated_at < handledFrom) return;
  ctx.metrics.jobRuns.inc({ task: run.task_id, status: run.status });
  if (run.duration_ms !== undefined) ctx.metrics.jobRunDuration.observe({ task: run.task_id }, run.duration_ms / 1000);
}

/** Triggers run concurrently up to this many per runner process. */
const MAX_INFLIGHT = 8;

export interface JobRunnerOptions {
  /** Tests inject a registry with test-only tools; production uses buildToolRegistry. */
  registry?: ToolRegistry;
  tasks?: TaskRegistry;
}

export async function start(ctx: Ctx, opts: JobRunnerOptions = {}): Promise<RunningWorker> {
  const j = ctx.subjects.jobs;
  const logger = ctx.logger.child({ worker: "jobs", stream: j.stream, consumer: j.consumer });
  const tasks = opts.tasks ?? loadTaskRegistry(ctx.env.TASK_REGISTRY);
  const registry = opts.registry ?? buildToolRegistry(ctx, { logger });
  checkTasksAgainstTools(tasks, registry, ctx.env.TASK_REGISTRY);
  const audit = new AuditWriter(ctx.stores.audit, logger, { deadLetterPath: deadLetterPath(ctx.env.DATA_DIR, "audit-jobs") });
  const unwatchAudit = ctx.health?.watchAudit("jobs", audit) ?? (() => undefined);
  const stopped = new AbortController();
  const runner = new JobRunner({
    runs: jobRunsOf(ctx, logger, tasks),
    gateway: { registry, policies: ctx.policies, opsEnv: ctx.env.OPS_ENV, apiKeys: ctx.env.apiKeys, audit: countingAudit(audit, ctx.metrics, { tools: registry }), logger, nodeId: ctx.env.NODE_ID, now: ctx.now },
    nodeId: ctx.env.NODE_ID,
    holder: `jobs@${ctx.env.NODE_ID}:${process.pid}`,
    stopping: stopped.signal,
  });

  /** One trigger: recorded and settled or started by the runner, which acks it once the ledger lease guards the run. */
  const handle = async (payload: unknown, h: MessageHelpers) => {
    let acked = false;
    const handledFrom = ctx.now().toISOString();
    // A ledger that cannot be reached right now is waited out while the trigger is held (+WPI),
    // so it spends no delivery; a repeat finds the run as the last try left it.
    const out = await retryTransient(
      () => runner.handle(payload, h.logger, () => {
        acked = true;
        h.ack();
      }),
      { signal: h.signal, onRetry: (err, retry, delayMs) => {
        if (!acked) h.working();
        h.logger.warn({ err, retry, delay_ms: delayMs }, "job trigger hit a transient failure; retrying");
      } },
    );
    countRun(ctx, out.run, handledFrom);
    if (out.settle === "term") {
      h.logger.error({ reason: out.reason }, "job trigger refused; terminated");
      h.term(out.reason);
    }
  };
  const consumer = await consumeEach<unknown>({
    js: ctx.js,
    stream: j.stream,
    consumer: j.consumer,
    logger,
    label: "job trigger handling",
    features: ctx.features,
    concurrency: MAX_INFLIGHT,
    // Not JSON: the runner refuses it (terminated, with the reason).
    parse: (d) => {
      try {
        return JSON.parse(dec.decode(d.data)) as unknown;
      } catch {
        return undefined;
      }
    },
    handle,
  });

  const minLease = Math.min(...[...tasks.values()].map((t) => t.lease_seconds), 60);
  const sweep = setInterval(() => {
    void runner.sweep(logger).then(
      (runs) => runs.length && logger.warn({ runs: runs.map((r) => r.id) }, "job runs abandoned (lease expired)"),
      (err) => logger.warn({ err }, "job lease sweep failed"),
    );
  }, Math.min(30_000, Math.max(500, (minLease * 1000) / 2)));
  sweep.unref();
  void runner.sweep(logger).catch(() => undefined);
  logger.info({ tasks: tasks.size }, "job runner started");
  return {
    name: "jobs",
    abandon: () => consumer.abandon(),
    async stop() {
      stopped.abort();
      clearInterval(sweep);
      await consumer.stop();
      unwatchAudit();
      await audit.close();
      logger.info("job runner stopped");
    },
  };
}
