/**
 * Ingest worker: consumes incoming alerts (subjects.alerts.in, durable `alerts-ingest`) in
 * batches; validates, dedupes and persists each batch, publishes work and events, and only then
 * acks. Invalid alerts (NUL or lone surrogates in any text, a body service other than the
 * subject's, …) are terminated with an `alert.rejected` event. A store or JetStream failure naks the
 * batch with a growing delay (never acked, never lost); a record the store refuses for good is
 * isolated by splitting the batch, terminated with `alert.rejected`, written to
 * `<DATA_DIR>/dead-letter/alerts-in.jsonl` and counted, and its batch-mates proceed. A batch
 * message (`ops.alerts.batch.<via>`) expands into its entries (src/alerts/incoming.ts).
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { ServerFeatures } from "../nats/features.js";
import type { OpsMetrics } from "../observability/metrics/opsbus.js";
import type { IngestDeps, PersistedBatch } from "../alerts/ingest.js";
import { BatchLanes, isBatchSubject, prepareAlert, processAlertBatch, type IncomingAlert, type IngestHelpers } from "../alerts/incoming.js";
import { consumeBatches, type BatchResult } from "../nats/consumer.js";
import { PubAckBatcher } from "../nats/events.js";
import type { Logger } from "../log.js";
import type { RunningWorker } from "./types.js";

export { prepareAlert, prepareMessage, processAlertBatch, subjectServiceOf, type IncomingAlert, type IngestHelpers } from "../alerts/incoming.js";

/** What the ingest worker needs; built once by the composition root (src/app/alerts-in.ts). */
export interface AlertsInDeps {
  ingest: IngestDeps;
  js: JetStreamClient;
  jsm: JetStreamManager;
  nc: NatsConnection;
  features: ServerFeatures;
  logger: Logger;
  batchSize: number;
  lanes: number;
  maxPayloadBytes: number;
  metrics?: OpsMetrics;
  /** Called once, on the first batch message: an HTTP intake (Alertmanager, PagerDuty) is sending. */
  onIntakeTraffic?: () => void;
}

export async function start(d: AlertsInDeps): Promise<RunningWorker> {
  const a = d.ingest.subjects.alerts;
  const logger = d.logger.child({ worker: "alerts-in", stream: a.stream, consumer: a.ingestConsumer });
  const streamInfo = await d.jsm.streams.info(a.stream);
  // The worker's side effects wait for their PubAcks per batch, not per message.
  const acks = new PubAckBatcher(d.nc);
  const helpers: IngestHelpers = {
    deps: { ...d.ingest, logger, acks },
    logger,
    receiptPrefix: `${a.stream}@${Date.parse(streamInfo.created)}`,
    maxPayloadBytes: d.maxPayloadBytes,
    storeLanes: d.lanes,
  };
  const { batchSize, lanes } = d;
  const batchLanes = new BatchLanes();
  const m = d.metrics;
  const onIntakeTraffic = d.onIntakeTraffic;
  let intakeSeen = false;

  const settled = (persisted: PersistedBatch) => () => {
    let rejected = 0;
    for (const o of persisted.outcomes) {
      // A replayed receipt was counted when first persisted.
      if (o.accepted && !o.replayed) m?.alertsIngested.inc();
      if (o.accepted && o.deduped && !o.replayed) m?.alertsDeduped.inc();
      if (o.accepted) continue;
      m?.alertsRejected.inc();
      if (o.dead_lettered) m?.alertsDeadLettered.inc();
      rejected++;
    }
    if (rejected) logger.warn({ rejected, batch: persisted.outcomes.length }, "alerts rejected; see ops.events.alert.rejected");
  };
  // Batch k publishes its work and events (then acks) while batch k+1 is persisted; each lane (a
  // group of disjoint fingerprints) persists at once with the others and acks after its own publish.
  const consumer = await consumeBatches<IncomingAlert>({
    js: d.js,
    stream: a.stream,
    consumer: a.ingestConsumer,
    logger,
    label: "ingest batch",
    features: d.features,
    metrics: { redelivered: (n) => m?.alertRedeliveries.inc({ worker: "alerts-in" }, n), retried: (n) => m?.alertRetries.inc({ worker: "alerts-in" }, n) },
    // Two rounds of batches waiting keep the store busy (three measured the same).
    ahead: batchSize * lanes * 2,
    batchSize,
    lanes,
    // Prepared inputs are several times a message's size: only the next batch or two are prepared ahead.
    parseAhead: batchSize * Math.max(2, lanes),
    // A batch message is read when its batch is handled, a window at a time (processAlertBatch):
    // read as it arrives, a backlog of them would be held in memory many times its size.
    parse: (d) => {
      if (isBatchSubject(d.subject, helpers.deps)) {
        if (!intakeSeen) {
          intakeSeen = true;
          onIntakeTraffic?.();
        }
        batchLanes.holdUnread();
        return { subject: d.subject, data: d.data, stream_seq: d.stream_seq };
      }
      return { subject: d.subject, data: d.data, stream_seq: d.stream_seq, prepared: prepareAlert(d, helpers) };
    },
    laneKey: (x) => batchLanes.keyOf(x.prepared),
    handle: async (batch): Promise<BatchResult> => {
      try {
        const persisted = await processAlertBatch(batch, helpers);
        return { outcomes: persisted.settlements, publish: persisted.publish, settled: settled(persisted) };
      } finally {
        for (const x of batch) if (x.prepared === undefined) batchLanes.releaseUnread();
      }
    },
  });

  logger.info({ batchSize }, "ingest worker started");
  return {
    name: "alerts-in",
    abandon: () => consumer.abandon(),
    async stop() {
      await consumer.stop();
      acks.close();
      logger.info("ingest worker stopped");
    },
  };
}
