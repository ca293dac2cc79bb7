/** The ingest worker's dependencies, taken from the process context. */
import { makeAmMapper } from "../alerts/am-mapping.js";
import { makeAlertNormalizer } from "../alerts/normalize.js";
import type { IngestDeps } from "../alerts/ingest.js";
import { makeSuppressAtIngest } from "../alerts/suppress.js";
import { EventPublisher } from "../nats/events.js";
import { DeadLetterFile, deadLetterPath } from "../util/dead-letter.js";
import * as alertsIn from "../workers/alerts-in.js";
import type { RunningWorker } from "../workers/types.js";
import type { Ctx } from "./context.js";
import { suppressDeps } from "./suppression.js";
import { lowerCpuPriority } from "../util/cpu-priority.js";

/** What validates, dedupes and persists an alert: the stream worker and `alert_ingest_tool` share it. */
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
    suppress: makeSuppressAtIngest(suppressDeps(ctx)),
    mapEntry: batchEntryMapper(ctx),
  };
}

/** Batch messages in a sender's own format are mapped here as their intake checked them (config/intake.yml). */
function batchEntryMapper(ctx: Ctx): NonNullable<IngestDeps["mapEntry"]> {
  const alertmanager = makeAmMapper(ctx.policies.intake.alertmanager, ctx.policies.alertRouting.alerts);
  return (format, raw, now) => {
    switch (format) {
      case "alertmanager-v2":
        return alertmanager(raw, now);
    }
  };
}

/** `onIntakeTraffic`: called once, when the first batch message (an HTTP intake's request) arrives. */
export function startAlertsIn(ctx: Ctx, onIntakeTraffic?: () => void): Promise<RunningWorker> {
  const { ingest, alerts } = ctx.policies.alertRouting;
  return alertsIn.start({
    ingest: ingestDeps(ctx),
    js: ctx.js,
    jsm: ctx.jsm,
    nc: ctx.nc,
    features: ctx.features,
    logger: ctx.logger,
    batchSize: ingest.batch_size,
    lanes: ingest.store_lanes,
    maxPayloadBytes: alerts.max_payload_bytes,
    ...(ctx.metrics ? { metrics: ctx.metrics } : {}),
    ...(onIntakeTraffic ? { onIntakeTraffic } : {}),
  });
}

/**
 * An ingest worker with a process of its own yields the CPU to the HTTP intake (OPSBUS_INGEST_NICE)
 * once the intake's traffic reaches it: during a storm the gateway answers the senders first, and
 * the worker catches up from the stream. Where monitors only publish on NATS, where a publish is
 * durable at its PubAck whatever the worker does, it keeps its full share.
 */
export function yieldToIntake(ctx: Ctx): void {
  const by = ctx.env.OPSBUS_INGEST_NICE;
  if (by === 0) return;
  const changed = lowerCpuPriority(by);
  const log = ctx.logger.child({ worker: "alerts-in" });
  if (changed.error) log.warn({ ...changed, by }, "could not lower the ingest worker's CPU priority everywhere; it competes with the intake as an equal");
  else log.info({ ...changed, by }, "ingest worker runs at a lower CPU priority than the intake (OPSBUS_INGEST_NICE)");
}
