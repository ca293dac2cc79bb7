/**
 * The resolve sweep: alerts whose `ends_at` passed are marked resolved (at their `ends_at`) and
 * announced with one `alert.resolved` each. The store's guarded update lets exactly one process
 * mark an alert, so every gateway may sweep; the event id is the alert and its resolve time, so a
 * republished event is deduplicated by JetStream too.
 */
import type { AlertRoutingPolicy } from "../config/policies.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import type { AlertRecord, AlertResolvedData } from "../subjects/index.js";
import { everyTick } from "../util/tick.js";
import type { AlertStore } from "./store.js";

export interface ResolveSweepDeps {
  store: AlertStore;
  events: EventPublisher;
  policy: AlertRoutingPolicy;
  logger: Logger;
  now(): Date;
}

/** Alerts marked per store call; the sweep repeats while a call comes back full. */
const PAGE = 500;

export function resolvedEvent(a: AlertRecord, reason: AlertResolvedData["reason"]): AlertResolvedData {
  return { alert_ref: a.alert_ref, fingerprint: a.fingerprint, service: a.service, resolved_at: a.resolved_at ?? a.ends_at ?? "", reason, known: true };
}

/** One sweep; returns how many alerts it resolved. */
export async function sweepExpired(d: ResolveSweepDeps): Promise<number> {
  let total = 0;
  for (;;) {
    const resolved = await d.store.resolveExpired(d.now(), PAGE);
    await Promise.all(resolved.map((a) => d.events.publish("alert.resolved", resolvedEvent(a, "ends_at"), `resolved:${a.alert_ref}:${a.resolved_at}`)));
    total += resolved.length;
    if (resolved.length < PAGE) return total;
  }
}

/** Sweeps every `alerts.resolve_sweep_seconds`; returns a stop function. */
export function startResolveSweep(d: ResolveSweepDeps): () => void {
  return everyTick(
    d.policy.alerts.resolve_sweep_seconds,
    async () => {
      const n = await sweepExpired(d);
      if (n) d.logger.info({ resolved: n }, "alerts past ends_at resolved");
    },
    (err) => d.logger.warn({ err }, "resolve sweep failed; retried next tick"),
  );
}
