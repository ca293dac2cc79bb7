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
