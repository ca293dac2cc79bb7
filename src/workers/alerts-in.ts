/**
 * Ingest worker: consumes incoming alerts (subjects.alerts.in, durable `alerts-ingest`) in
 * batches; validates, dedupes and persists each batch, publishes work and events, and only then
 * acks. Invalid alerts are terminated with an `alert.rejected` event; a store or JetStream failure
 * naks the batch with a growing delay (never acked, never lost).
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Ctx } from "../context.js";
import { persistAlerts, type IngestDeps, type IngestInput, type PersistedBatch } from "../alerts/ingest.js";
import { decodeAlertBytes, makeAlertNormalizer } from "../alerts/normalize.js";
import { EventPublisher } from "../nats/events.js";
import type { Logger } from "../log.js";
import type { RunningWorker } from "./types.js";

export interface IngestHelpers {
  deps: IngestDeps;
  logger: Logger;
  /** `<stream>@<created>`: with the sequence, a key unique for the stream's lifetime. */
  receiptPrefix: string;
  maxPayloadBytes: number;
}

export interface IncomingAlert {
  subject: string;
  data: Uint8Array;
  stream_seq: number;
}

/** The per-batch function: no NATS in sight, so it is unit-testable. Publish, then settle. */
export function processAlertBatch(batch: IncomingAlert[], helpers: IngestHelpers): Promise<PersistedBatch> {
  const inputs: IngestInput[] = batch.map((m) => ({
    decoded: decodeAlertBytes(m.data, helpers.maxPayloadBytes),
    receipt_key: `${helpers.receiptPrefix}:${m.stream_seq}`,
    subject: m.subject,
    stream_seq: m.stream_seq,
    raw: m.data,
  }));
  return persistAlerts(helpers.deps, inputs);
}

/** Redelivery delay after a failed batch: 1 s, 2 s, 4 s … capped at 30 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, deliveryCount - 1));
}

export function ingestDeps(ctx: Ctx): IngestDeps {
  return {
    store: ctx.stores.alerts,
    js: ctx.js,
    events: new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now),
    subjects: ctx.subjects,
    normalize: makeAlertNormalizer(ctx.policies.alertRouting, ctx.now),
    now: ctx.now,
    logger: ctx.logger,
    maxRawBytes: ctx.policies.alertRouting.alerts.max_payload_bytes,
  };
}

export async function start(ctx: Ctx): Promise<RunningWorker> {
  const a = ctx.subjects.alerts;
  const logger = ctx.logger.child({ worker: "alerts-in", stream: a.stream, consumer: a.ingestConsumer });
  const streamInfo = await ctx.jsm.streams.info(a.stream);
  const helpers: IngestHelpers = {
    deps: { ...ingestDeps(ctx), logger },
    logger,
    receiptPrefix: `${a.stream}@${Date.parse(streamInfo.created)}`,
    maxPayloadBytes: ctx.policies.alertRouting.alerts.max_payload_bytes,
  };
  const batchSize = ctx.policies.alertRouting.ingest.batch_size;
  const consumer = await ctx.js.consumers.get(a.stream, a.ingestConsumer);
  let stopping = false;
  let buffer: JsMsg[] = [];
  const nakAll = (batch: JsMsg[], err: unknown, stage: string) => {
    const first = batch[0];
    logger.error({ err, stage, batch: batch.length, first_seq: first?.seq, deliveries: first?.info.deliveryCount }, "ingest batch failed; nak for redelivery");
    for (const m of batch) m.nak(retryDelayMs(m.info.deliveryCount));
  };
  const settleAll = (batch: JsMsg[], persisted: PersistedBatch) => {
    let rejected = 0;
    persisted.outcomes.forEach((o, i) => {
      const m = batch[i]!;
      if (o.accepted) return m.ack();
      rejected++;
      // 2.9 ignores a `+TERM <reason>` altogether (the message would come back): reason only where supported.
      if (ctx.features.termReason) m.term(o.reasons.join("; ").slice(0, 200));
      else m.term();
    });
    if (rejected) logger.warn({ rejected, batch: batch.length }, "alerts rejected; see ops.events.alert.rejected");
  };

  // Two batches in flight at most: batch k publishes its work and events (then acks) while batch
  // k+1 is persisted. Store calls stay one at a time: concurrent batches of one worker only
  // contend on the same fingerprints' rows. Each batch acks only after its own persist and publish.
  let publishing: Promise<void> = Promise.resolve();
  const settle = async (batch: JsMsg[]) => {
    let persisted: PersistedBatch;
    try {
      persisted = await processAlertBatch(batch.map((m) => ({ subject: m.subject, data: m.data, stream_seq: m.seq })), helpers);
    } catch (err) {
      nakAll(batch, err, "persist");
      return;
    }
    const previous = publishing;
    publishing = persisted.publish().then(
      () => settleAll(batch, persisted),
      (err: unknown) => nakAll(batch, err, "publish"),
    );
    await previous;
  };

  // Group commit: while one batch is being persisted the next accumulates, so batches grow with
  // load (up to batchSize) and stay small, hence fast, when traffic is light. The callback form of
  // consume() avoids a promise per message on this hot path.
  let pumping: Promise<void> | undefined;
  const pump = async () => {
    while (buffer.length && !stopping) await settle(buffer.splice(0, batchSize));
  };
  const kick = () => {
    pumping ??= pump().finally(() => {
      pumping = undefined;
      if (buffer.length && !stopping) setImmediate(kick);
    });
  };
  const messages = await consumer.consume({
    max_messages: batchSize * 3,
    expires: 5000,
    callback: (m) => {
      if (stopping) return m.nak();
      buffer.push(m);
      // setImmediate: first take everything this socket read delivered, then start the batch.
      if (!pumping) setImmediate(kick);
    },
  });

  logger.info({ batchSize }, "ingest worker started");
  return {
    name: "alerts-in",
    async stop() {
      stopping = true;
      await messages.close().catch(() => undefined);
      await pumping;
      for (const m of buffer) m.nak();
      buffer = [];
      await publishing;
      logger.info("ingest worker stopped");
    },
  };
}
