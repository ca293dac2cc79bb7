/**
 * Ingest worker: consumes incoming alerts (subjects.alerts.in, durable `alerts-ingest`) in
 * batches; validates, dedupes and persists each batch, publishes work and events, and only then
 * acks. Invalid alerts (NUL or lone surrogates in any text, a body service other than the
 * subject's, …) are terminated with an `alert.rejected` event. A store or JetStream failure naks the
 * batch with a growing delay (never acked, never lost); a record the store refuses for good is
 * isolated by splitting the batch, terminated with `alert.rejected`, written to
 * `<DATA_DIR>/dead-letter/alerts-in.jsonl` and counted, and its batch-mates proceed.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Ctx } from "../context.js";
import { persistAlerts, type IngestDeps, type IngestInput, type PersistedBatch } from "../alerts/ingest.js";
import { decodeAlertBytes, makeAlertNormalizer } from "../alerts/normalize.js";
import { DeadLetterFile, deadLetterPath } from "../stores/dead-letter.js";
import { EventPublisher, PubAckBatcher } from "../nats/events.js";
import type { Logger } from "../log.js";
import { STOPPING_NAK_DELAY_MS, type RunningWorker } from "./types.js";

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

/** The `<service>` token of an `ops.alerts.in.<service>` subject (everything after the prefix). */
export function subjectServiceOf(subject: string, deps: Pick<IngestDeps, "subjects">): string | undefined {
  const prefix = deps.subjects.alerts.inWildcard.slice(0, -1);
  return subject.startsWith(prefix) ? subject.slice(prefix.length) : undefined;
}

/** Decodes and validates one message: done as it arrives, while the previous batch is in the store. */
export function prepareAlert(m: IncomingAlert, helpers: IngestHelpers): IngestInput {
  const decoded = decodeAlertBytes(m.data, helpers.maxPayloadBytes);
  const subjectService = subjectServiceOf(m.subject, helpers.deps);
  return {
    decoded,
    normalized: decoded.ok ? helpers.deps.normalize(decoded.value, subjectService === undefined ? {} : { subjectService }) : decoded,
    receipt_key: `${helpers.receiptPrefix}:${m.stream_seq}`,
    subject: m.subject,
    stream_seq: m.stream_seq,
    raw: m.data,
  };
}

/** The per-batch function: no NATS in sight, so it is unit-testable. Publish, then settle. */
export function processAlertBatch(batch: IncomingAlert[], helpers: IngestHelpers): Promise<PersistedBatch> {
  return persistAlerts(helpers.deps, batch.map((m) => prepareAlert(m, helpers)));
}

/**
 * Splits messages into `lanes` groups by fingerprint (undecodable ones go with the first), so
 * the groups' store calls run at once without waiting on each other's rows. Arrival order is
 * kept within a group, and one fingerprint always lands in the same group.
 */
export function splitByFingerprint<T>(entries: T[], lanes: number, fingerprint: (e: T) => string | undefined): T[][] {
  if (lanes <= 1) return [entries];
  const groups: T[][] = Array.from({ length: lanes }, () => []);
  for (const e of entries) {
    const fp = fingerprint(e);
    let h = 0;
    // FNV-1a: cheap and spreads the short, similar fingerprints of one service evenly.
    if (fp !== undefined) for (let i = 0; i < fp.length; i++) h = Math.imul(h ^ fp.charCodeAt(i), 16777619);
    groups[fp === undefined ? 0 : (h >>> 0) % lanes]!.push(e);
  }
  return groups.filter((g) => g.length > 0);
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
    deadLetters: new DeadLetterFile(deadLetterPath(ctx.env.DATA_DIR, "alerts-in"), ctx.now),
  };
}

export async function start(ctx: Ctx): Promise<RunningWorker> {
  const a = ctx.subjects.alerts;
  const logger = ctx.logger.child({ worker: "alerts-in", stream: a.stream, consumer: a.ingestConsumer });
  const streamInfo = await ctx.jsm.streams.info(a.stream);
  // The worker's side effects wait for their PubAcks per batch, not per message.
  const acks = new PubAckBatcher(ctx.nc);
  const helpers: IngestHelpers = {
    deps: { ...ingestDeps(ctx), logger, acks },
    logger,
    receiptPrefix: `${a.stream}@${Date.parse(streamInfo.created)}`,
    maxPayloadBytes: ctx.policies.alertRouting.alerts.max_payload_bytes,
  };
  const { batch_size: batchSize, store_lanes: lanes } = ctx.policies.alertRouting.ingest;
  const consumer = await ctx.js.consumers.get(a.stream, a.ingestConsumer);
  let stopping = false;
  /** Messages in arrival order; the first ones already prepared (decoded and validated). */
  let buffer: Array<{ m: JsMsg; input?: IngestInput }> = [];
  // Prepared inputs are several times the size of a message: only the next batch or two are
  // prepared ahead, a backlog beyond that waits as raw messages.
  const prepareAhead = batchSize * Math.max(2, lanes);
  const prepare = (m: JsMsg) => prepareAlert({ subject: m.subject, data: m.data, stream_seq: m.seq }, helpers);
  // Ahead of its batch, a failure leaves the message unprepared: its batch prepares it again and
  // naks on failure, inside the consume loop's error handling.
  const prepareEarly = (m: JsMsg) => {
    try {
      return prepare(m);
    } catch {
      return undefined;
    }
  };
  const fingerprintOf = (e: { m: JsMsg; input?: IngestInput }) => {
    e.input ??= prepareEarly(e.m);
    const n = e.input?.normalized;
    return n?.ok ? n.item.alert.fingerprint : undefined;
  };
  const prepareNext = () => {
    for (let i = 0; i < buffer.length && i < prepareAhead; i++) buffer[i]!.input ??= prepareEarly(buffer[i]!.m);
  };
  const nakAll = (batch: JsMsg[], err: unknown, stage: string) => {
    const first = batch[0];
    logger.error({ err, stage, batch: batch.length, first_seq: first?.seq, deliveries: first?.info.deliveryCount }, "ingest batch failed; nak for redelivery");
    for (const m of batch) m.nak(retryDelayMs(m.info.deliveryCount));
    ctx.metrics?.alertRetries.inc({ worker: "alerts-in" }, batch.length);
  };
  const settleAll = (batch: JsMsg[], persisted: PersistedBatch) => {
    let rejected = 0;
    persisted.outcomes.forEach((o, i) => {
      const m = batch[i]!;
      if (o.accepted) {
        // A replayed receipt was counted when first persisted.
        if (!o.replayed) ctx.metrics?.alertsIngested.inc();
        if (o.deduped && !o.replayed) ctx.metrics?.alertsDeduped.inc();
        return m.ack();
      }
      ctx.metrics?.alertsRejected.inc();
      if (o.dead_lettered) ctx.metrics?.alertsDeadLettered.inc();
      rejected++;
      // 2.9 ignores a `+TERM <reason>` altogether (the message would come back): reason only where supported.
      if (ctx.features.termReason) m.term(o.reasons.join("; ").slice(0, 200));
      else m.term();
    });
    if (rejected) logger.warn({ rejected, batch: batch.length }, "alerts rejected; see ops.events.alert.rejected");
  };

  // Batch k publishes its work and events (then acks) while batch k+1 is persisted. A batch is
  // split into `lanes` groups of disjoint fingerprints whose store calls run at once: they never
  // wait on each other's rows, and one group's round trips overlap another's work. Each group
  // acks only after its own persist and publish.
  let publishing: Promise<void> = Promise.resolve();
  const settle = async (entries: Array<{ m: JsMsg; input?: IngestInput }>) => {
    const batch = entries.map((e) => e.m);
    let persisted: PersistedBatch;
    try {
      persisted = await persistAlerts(helpers.deps, entries.map((e) => e.input ?? prepare(e.m)));
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
    while (buffer.length && !stopping) {
      const groups = splitByFingerprint(buffer.splice(0, batchSize * lanes), lanes, fingerprintOf);
      const persisting = Promise.all(groups.map(settle));
      // Once this batch's store call is under way, prepare what waits behind it.
      setImmediate(prepareNext);
      await persisting;
    }
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
      if (stopping) return m.nak(STOPPING_NAK_DELAY_MS);
      if (m.info.deliveryCount > 1) ctx.metrics?.alertRedeliveries.inc({ worker: "alerts-in" });
      // Decode and validate now: this runs while the previous batch waits on the store.
      buffer.push(buffer.length < prepareAhead ? { m, input: prepareEarly(m) } : { m });
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
      for (const { m } of buffer) m.nak();
      buffer = [];
      await publishing;
      acks.close();
      logger.info("ingest worker stopped");
    },
  };
}
