/**
 * Incident bridge worker: the alert → incident bridge on the alert work consumer (the one `claim`
 * uses). What a batch commits is incidents/bridge-commit.ts; the deliveries are acked only after.
 * A redelivered alert is absorbed as a replay (nothing new is written) and acked. Between batches
 * it sweeps escalations and, when given, auto-resolve.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { bridgeBatch, type BridgeBatchDeps, type WorkDelivery } from "../incidents/bridge-commit.js";
import type { Logger } from "../log.js";
import { consumeBatches, UnreadableDelivery } from "../nats/consumer.js";
import type { ServerFeatures } from "../nats/features.js";
import type { OpsMetrics } from "../observability/metrics/opsbus.js";
import { AlertWorkItem, type Subjects } from "../subjects/index.js";
import type { RunningWorker } from "./types.js";

const dec = new TextDecoder();
export function parseWork(data: Uint8Array, delivery_count: number): WorkDelivery {
  let json: unknown;
  try {
    json = JSON.parse(dec.decode(data));
  } catch {
    json = undefined;
  }
  const item = AlertWorkItem.safeParse(json);
  if (!item.success) throw new UnreadableDelivery("work item is not {alert_ref}");
  return { alert_ref: item.data.alert_ref, delivery_count };
}

export interface IncidentBridgeWorkerDeps {
  batch: BridgeBatchDeps;
  js: JetStreamClient;
  subjects: Subjects;
  features: ServerFeatures;
  logger: Logger;
  batchSize: number;
  sweepIntervalMs: number;
  metrics?: OpsMetrics;
  /** The auto-resolve sweep, run after each escalation sweep. */
  autoResolve?: () => Promise<unknown>;
}

export async function start(d: IncidentBridgeWorkerDeps): Promise<RunningWorker> {
  const a = d.subjects.alerts;
  const name = "incident-bridge";
  const logger = d.logger.child({ worker: name, stream: a.workStream, consumer: a.workConsumer });
  const m = d.metrics;
  const consumer = await consumeBatches<WorkDelivery>({
    js: d.js,
    stream: a.workStream,
    consumer: a.workConsumer,
    logger,
    label: "triage batch",
    features: d.features,
    retryDelay: d.batch.retryDelay,
    metrics: { redelivered: (n) => m?.alertRedeliveries.inc({ worker: name }, n), retried: (n) => m?.alertRetries.inc({ worker: name }, n) },
    batchSize: d.batchSize,
    parse: (msg) => parseWork(msg.data, msg.delivery_count),
    handle: (batch, h) => bridgeBatch(batch, d.batch, h),
  });
  const sweep = setInterval(() => {
    void d.batch.bridge
      .sweepEscalations()
      .catch((err) => logger.warn({ err }, "escalation sweep failed"))
      .then(() => d.autoResolve?.())
      .catch((err) => logger.warn({ err }, "auto-resolve sweep failed"));
  }, d.sweepIntervalMs);
  sweep.unref();
  logger.info({ batchSize: d.batchSize }, "incident bridge worker started");
  return {
    name,
    abandon: () => consumer.abandon(),
    async stop() {
      clearInterval(sweep);
      await consumer.stop();
      logger.info("incident bridge worker stopped");
    },
  };
}
