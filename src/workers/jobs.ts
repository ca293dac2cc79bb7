/**
 * Job runner: consumes the job triggers (subjects.jobs) on the durable `jobs` consumer and runs each task
 * through the gateway's tool registry, RBAC, limits and audit (see src/jobs/runner.ts). A trigger
 * is acked once its run is recorded and settled or started; from then on the ledger lease guards
 * the run, and a sweep marks runs whose runner died `failed` (abandoned) once the lease expires
 * and re-runs a scheduled slot so it still gets its one successful run.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { JobRunner } from "../jobs/runner.js";
import type { JobRun } from "../jobs/ledger-store.js";
import type { Logger } from "../log.js";
import { consumeEach, type MessageHelpers } from "../nats/consumer.js";
import type { ServerFeatures } from "../nats/features.js";
import type { OpsMetrics } from "../observability/metrics/opsbus.js";
import type { Subjects } from "../subjects/index.js";
import { retryTransient } from "../util/transient.js";
import type { RunningWorker } from "./types.js";

const dec = new TextDecoder();
const FINAL = new Set(["succeeded", "failed", "canceled", "skipped"]);
/** Triggers run concurrently up to this many per runner process. */
const MAX_INFLIGHT = 8;

export interface JobsWorkerDeps {
  runner: JobRunner;
  js: JetStreamClient;
  subjects: Subjects;
  features: ServerFeatures;
  logger: Logger;
  now(): Date;
  /** How often the lease sweep looks for abandoned runs. */
  sweepIntervalMs: number;
  metrics?: OpsMetrics;
}

/** Counts a run this trigger finished (a redelivered trigger finds it finished earlier: not counted). */
function countRun(metrics: OpsMetrics | undefined, run: JobRun | undefined, handledFrom: string): void {
  if (!metrics || !run || !FINAL.has(run.status) || run.updated_at < handledFrom) return;
  metrics.jobRuns.inc({ task: run.task_id, status: run.status });
  if (run.duration_ms !== undefined) metrics.jobRunDuration.observe({ task: run.task_id }, run.duration_ms / 1000);
}

/** Not JSON: the runner refuses it (terminated, with the reason). */
function parseTrigger(data: Uint8Array): unknown {
  try {
    return JSON.parse(dec.decode(data)) as unknown;
  } catch {
    return undefined;
  }
}

export async function start(d: JobsWorkerDeps): Promise<RunningWorker> {
  const j = d.subjects.jobs;
  const logger = d.logger.child({ worker: "jobs", stream: j.stream, consumer: j.consumer });

  /** One trigger: recorded and settled or started by the runner, which acks it once the ledger lease guards the run. */
  const handle = async (payload: unknown, h: MessageHelpers) => {
    let acked = false;
    const handledFrom = d.now().toISOString();
    // A ledger that cannot be reached right now is waited out while the trigger is held (+WPI),
    // so it spends no delivery; a repeat finds the run as the last try left it.
    const out = await retryTransient(
      () => d.runner.handle(payload, h.logger, () => {
        acked = true;
        h.ack();
      }),
      { signal: h.signal, onRetry: (err, retry, delayMs) => {
        if (!acked) h.working();
        h.logger.warn({ err, retry, delay_ms: delayMs }, "job trigger hit a transient failure; retrying");
      } },
    );
    countRun(d.metrics, out.run, handledFrom);
    if (out.settle === "term") {
      h.logger.error({ reason: out.reason }, "job trigger refused; terminated");
      h.term(out.reason);
    }
  };
  const consumer = await consumeEach<unknown>({
    js: d.js, stream: j.stream, consumer: j.consumer, logger, label: "job trigger handling", features: d.features,
    concurrency: MAX_INFLIGHT,
    parse: (m) => parseTrigger(m.data),
    handle,
  });
  const sweepOnce = () => d.runner.sweep(logger);
  const sweep = setInterval(() => {
    void sweepOnce().then(
      (runs) => runs.length && logger.warn({ runs: runs.map((r) => r.id) }, "job runs abandoned (lease expired)"),
      (err) => logger.warn({ err }, "job lease sweep failed"),
    );
  }, d.sweepIntervalMs);
  sweep.unref();
  void sweepOnce().catch(() => undefined);
  logger.info("job runner started");
  return {
    name: "jobs",
    abandon: () => consumer.abandon(),
    async stop() {
      clearInterval(sweep);
      await consumer.stop();
      logger.info("job runner stopped");
    },
  };
}
