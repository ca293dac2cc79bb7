/**
 * One batch of the alert → incident bridge: read the alerts, absorb them into incidents in one store
 * step, mark them acked in the alert store, and say how each delivery settles. The worker
 * (workers/incident-bridge.ts) owns the consumer; this owns what a batch commits.
 */
import type { AlertStore } from "../alerts/store.js";
import type { BatchHelpers, BatchResult } from "../nats/consumer.js";
import type { RetryDelay } from "../nats/settle.js";
import { retryTransient } from "../util/transient.js";
import type { IncidentBridge } from "./bridge.js";

/** One work item as the consumer read it. */
export interface WorkDelivery {
  alert_ref: string;
  delivery_count: number;
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
