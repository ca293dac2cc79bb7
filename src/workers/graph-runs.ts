/**
 * Graph worker: executes queued graph runs (triage report, postmortem draft) from the graph-runs
 * work queue (see incidents/graph-exec.ts). A worker killed mid-run leaves the delivery unacked, so
 * another takes it after ack_wait; a repair sweep republishes queued runs whose publish was lost.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { executeRun, failRun, type GraphExecDeps } from "../incidents/graph-exec.js";
import type { GraphRuns } from "../incidents/graph-runs.js";
import type { GraphRun } from "../incidents/store.js";
import type { Logger } from "../log.js";
import { consumeEach, UnreadableDelivery, type MessageHelpers } from "../nats/consumer.js";
import type { ServerFeatures } from "../nats/features.js";
import { retryDelayMs } from "../nats/settle.js";
import { GraphRunItem, type Subjects } from "../subjects/index.js";
import { isTransient, retryTransient } from "../util/transient.js";
import type { RunningWorker } from "./types.js";

const dec = new TextDecoder();

/** Deterministic failures (a bug, bad data) a run may have before it is failed for good. */
export const MAX_ATTEMPTS = 5;
/** Backstop for a run whose deliveries keep dying without an outcome (kills are not attempts). */
export const MAX_DELIVERIES = 50;

export interface GraphRunsWorkerDeps {
  exec: GraphExecDeps;
  runs: GraphRuns;
  js: JetStreamClient;
  subjects: Subjects;
  features: ServerFeatures;
  logger: Logger;
}

/**
 * One delivery of a run. Attempts count deterministic failures only: a transient failure (see
 * util/transient.ts) is retried in place while the delivery is held, and a redelivery after a
 * killed holder is simply run again. Neither spends the budget.
 */
export async function handleRun(d: GraphExecDeps, item: GraphRunItem, h: MessageHelpers): Promise<void> {
  const log = h.logger.child({ run_id: item.run_id });
  const retrying = {
    signal: h.signal,
    onRetry: (err: unknown, retry: number, delayMs: number) => {
      h.working();
      log.warn({ err, retry, delay_ms: delayMs }, "graph run hit a transient failure; retrying (not counted as an attempt)");
    },
  };
  const giveUp = async (run: GraphRun, message: string, attempts: number, err?: unknown) => {
    log.error({ err, attempts, deliveries: h.deliveryCount, error: message }, "graph run failed for good");
    await failRun(d, run, message, attempts);
    h.term(message);
  };
  const run = await retryTransient(() => d.incidents.getRun(item.run_id), retrying);
  if (!run || run.status === "succeeded" || run.status === "failed") {
    if (!run) log.warn("work for an unknown graph run; terminated");
    return run ? h.ack() : h.term("unknown graph run");
  }
  if (h.deliveryCount > 1 && run.status === "running") {
    log.warn({ deliveries: h.deliveryCount, attempts: run.attempts }, "graph run redelivered (its holder died or gave it back); running it again, not counted");
  }
  if (h.deliveryCount > MAX_DELIVERIES) return giveUp(run, `no outcome after ${h.deliveryCount - 1} deliveries (each holder died or stopped)`, run.attempts);
  const now = d.now().toISOString();
  const started = await retryTransient(() => d.incidents.updateRun(run.id, ["queued", "running"], { status: "running", started_at: run.started_at ?? now, updated_at: now }), retrying);
  if (!started) return h.ack();
  try {
    await retryTransient(() => executeRun(d, started), retrying);
    log.info({ graph: run.graph, incident_id: run.incident_id }, "graph run succeeded");
    h.ack();
  } catch (err) {
    if (isTransient(err)) throw err; // only when stopping: the loop gives the delivery back
    const message = err instanceof Error ? err.message : String(err);
    const attempts = started.attempts + 1;
    if (attempts >= MAX_ATTEMPTS) return giveUp(started, message, attempts, err);
    log.warn({ err, attempt: attempts }, "graph run failed; will retry");
    await retryTransient(() => d.incidents.updateRun(run.id, ["running"], { attempts, error: message, updated_at: d.now().toISOString() }), retrying);
    h.nak(retryDelayMs(attempts));
  }
}

export function parseRunItem(data: Uint8Array): GraphRunItem {
  try {
    return GraphRunItem.parse(JSON.parse(dec.decode(data)));
  } catch {
    throw new UnreadableDelivery("graph work item is not {run_id}");
  }
}

export async function start(d: GraphRunsWorkerDeps): Promise<RunningWorker> {
  const g = d.subjects.graphs;
  const logger = d.logger.child({ worker: "graph-runs", stream: g.stream, consumer: g.consumer });
  const consumer = await consumeEach<GraphRunItem>({
    js: d.js, stream: g.stream, consumer: g.consumer, logger, label: "graph run handling", features: d.features, concurrency: 8,
    parse: (m) => parseRunItem(m.data),
    handle: (item, h) => handleRun(d.exec, item, h),
  });
  const repair = setInterval(() => {
    void d.runs.republishStale().catch((err) => logger.warn({ err }, "graph run repair sweep failed"));
  }, 30_000);
  repair.unref();
  logger.info("graph worker started");
  return {
    name: "graph-runs",
    abandon: () => consumer.abandon(),
    async stop() {
      clearInterval(repair);
      await consumer.stop();
      logger.info("graph worker stopped");
    },
  };
}
