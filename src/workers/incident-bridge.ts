/**
 * Incident bridge worker: the alert → incident bridge on the alert work consumer (the one `claim`
 * uses). Each batch: read the alerts, absorb them into incidents in one store step, queue triage
 * runs and publish events, mark the alerts acked in the alert store, and only then ack the
 * deliveries. A redelivered alert is absorbed as a replay (nothing new is written) and acked.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { IncidentBridge } from "../incidents/bridge.js";
import type { Logger } from "../log.js";
import { consumeBatches, UnreadableDelivery, type BatchHelpers, type BatchResult } from "../nats/consumer.js";
import type { ServerFeatures } from "../nats/features.js";
import type { RetryDelay } from "../nats/settle.js";
import type { OpsMetrics } from "../observability/metrics/opsbus.js";
import type { AlertStore } from "../alerts/store.js";
import { AlertWorkItem, type Subjects } from "../subjects/index.js";
import { retryTransient } from "../util/transient.js";
import type { RunningWorker } from "./types.js";

export interface WorkDelivery {
  alert_ref: string;
  delivery_count: number;
}

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

export interface BridgeBatchDeps {
  bridge: IncidentBridge;
  alerts: AlertStore;
  /** Who acked the alerts (the alert store's `owner`). */
  owner: string;
  /** For work whose alert the store does not know (yet). */
  retryDelay: RetryDelay;
  now(): Date;
  recordAlertLoop?(ms: number): void;
}

/**
 * The per-batch function. A transient failure (store unreachable, pool exhausted) is retried here
 * while the batch is held (+WPI keeps the lock), so it spends none of the alerts' max_deliver: only
 * a stop or a deterministic failure gives the batch back. A replayed absorb writes nothing new.
 */
export async function bridgeBatch(batch: WorkDelivery[], d: BridgeBatchDeps, h: BatchHelpers): Promise<BatchResult> {
  const commit = async () => {
    const found = new Map((await d.alerts.getMany([...new Set(batch.map((w) => w.alert_ref))])).map((a) => [a.alert_ref, a]));
    const live = batch.flatMap((w) => {
      const alert = found.get(w.alert_ref);
      return alert && !alert.dead && alert.status !== "acked" ? [{ w, alert }] : [];
    });
    const absorbed = await d.bridge.absorb(live.map((x) => x.alert));
    const ackedAt = d.now().toISOString();
    // The store mirrors the outcome before JetStream hears it: a lost ack finds it settled.
    await d.alerts.updateStates(
      live.map(({ w, alert }, i) => ({
        alert_ref: alert.alert_ref,
        patch: { status: "acked", owner: d.owner, acked_at: ackedAt, ack_note: `incident ${absorbed[i]!.incident_id}`, lock_until: null, attempts: w.delivery_count },
      })),
    );
    return { found, live: live.map((x) => x.alert) };
  };
  const { found, live } = await retryTransient(commit, {
    signal: h.signal,
    onRetry: (err, retry, delayMs) => {
      h.working();
      h.logger.warn({ err, retry, delay_ms: delayMs, batch: batch.length }, "triage batch hit a transient failure; retrying (no delivery spent)");
    },
  });
  const outcomes = batch.map((w): BatchResult["outcomes"][number] => {
    const alert = found.get(w.alert_ref);
    if (!alert) {
      // While Postgres is down the store is a fallback that knows neither alerts committed before the
      // outage nor those another process took: their work comes back with the backoff (and is
      // exhausted after max_deliver; the gateway then marks a known alert dead).
      h.logger.warn({ alert_ref: w.alert_ref, deliveries: w.delivery_count }, "work for an unknown alert; retried later");
      return { kind: "nak", delayMs: d.retryDelay(w.delivery_count) };
    }
    // Dead: nothing to do, ever. Already acked in the store (the JetStream ack was lost): ack again.
    return alert.dead ? { kind: "term" } : { kind: "ack" };
  });
  return {
    outcomes,
    // The alert loop closes here: incident committed, alert acked in the store and in JetStream.
    settled: () => {
      const closedAt = d.now().getTime();
      for (const alert of live) d.recordAlertLoop?.(closedAt - Date.parse(alert.created_at));
    },
  };
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
    // consume() would keep pulling while batches commit: one worker would hoard the backlog (up to
    // max_ack_pending), starve its peers and let held deliveries outlive ack_wait.
    flow: { kind: "bounded" },
    batchSize: d.batchSize,
    parse: (msg) => parseWork(msg.data, msg.delivery_count),
    handle: (batch, h) => bridgeBatch(batch, d.batch, h),
  });
  const sweep = setInterval(() => {
    void d.batch.bridge.sweepEscalations().catch((err) => logger.warn({ err }, "escalation sweep failed"));
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
