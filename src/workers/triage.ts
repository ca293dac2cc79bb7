/**
 * Triage worker: the alert → incident bridge on the alert work consumer (the one `claim` uses).
 * Each batch: read the alerts, absorb them into incidents in one store step, queue triage runs and
 * publish events, mark the alerts acked in the alert store, and only then ack the deliveries.
 * A redelivered alert is absorbed as a replay (nothing new is written) and acked.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Ctx } from "../context.js";
import { IncidentBridge } from "../incidents/bridge.js";
import { GraphRuns } from "../incidents/graph-runs.js";
import type { Logger } from "../log.js";
import { EventPublisher } from "../nats/events.js";
import type { AlertStore } from "../alerts/store.js";
import { AlertWorkItem, type AlertRecord } from "../subjects/index.js";
import { retryTransient } from "../util/transient.js";
import { STOPPING_NAK_DELAY_MS, type RunningWorker } from "./types.js";

export function incidentBridge(ctx: Ctx, logger: Logger = ctx.logger): IncidentBridge {
  const events = new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now);
  return new IncidentBridge({
    incidents: ctx.stores.incidents,
    alerts: ctx.stores.alerts,
    routing: ctx.policies.alertRouting,
    escalation: ctx.policies.incidentEscalation,
    events,
    graphs: graphRuns(ctx, logger),
    actor: `triage@${ctx.env.NODE_ID}`,
    logger,
    now: ctx.now,
  });
}

export function graphRuns(ctx: Ctx, logger: Logger = ctx.logger): GraphRuns {
  return new GraphRuns({ incidents: ctx.stores.incidents, js: ctx.js, subjects: ctx.subjects, logger, now: ctx.now });
}

const dec = new TextDecoder();
/** A pull request's lifetime on a quiet queue (messages are handled as they arrive, not at expiry); stop() waits out at most one. */
const FETCH_EXPIRES_MS = 1000;

interface Sorted {
  /** Deliveries whose alert goes through the bridge, with the alert. */
  live: Array<{ m: JsMsg; alert: AlertRecord }>;
  /** Already acked in the store (the JetStream ack was lost): ack again. */
  done: JsMsg[];
  /** Unreadable or dead: nothing to do, ever. */
  drop: JsMsg[];
  /**
   * For an alert the store does not know (yet): retried with the failure backoff. While Postgres is
   * down the store is a fallback that knows neither alerts committed before the outage nor those
   * another process took; dropping their work would keep them off every incident for good.
   */
  unknown: JsMsg[];
}

async function sortBatch(batch: JsMsg[], alerts: AlertStore, logger: Logger): Promise<Sorted> {
  const refs = new Map<JsMsg, string>();
  const out: Sorted = { live: [], done: [], drop: [], unknown: [] };
  for (const m of batch) {
    const item = AlertWorkItem.safeParse(safeJson(m.data));
    if (item.success) refs.set(m, item.data.alert_ref);
    else {
      logger.error({ stream_seq: m.seq }, "work item is not {alert_ref}; terminated");
      out.drop.push(m);
    }
  }
  const found = new Map((await alerts.getMany([...new Set(refs.values())])).map((a) => [a.alert_ref, a]));
  for (const [m, ref] of refs) {
    const alert = found.get(ref);
    if (!alert) {
      logger.warn({ alert_ref: ref, deliveries: m.info.deliveryCount }, "work for an unknown alert; retried later");
      out.unknown.push(m);
    } else if (alert.dead) out.drop.push(m);
    else if (alert.status === "acked") out.done.push(m);
    else out.live.push({ m, alert });
  }
  return out;
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(dec.decode(data));
  } catch {
    return undefined;
  }
}

export async function start(ctx: Ctx): Promise<RunningWorker> {
  const a = ctx.subjects.alerts;
  const logger = ctx.logger.child({ worker: "triage", stream: a.workStream, consumer: a.workConsumer });
  const bridge = incidentBridge(ctx, logger);
  const alerts = ctx.stores.alerts;
  const owner = `triage@${ctx.env.NODE_ID}`;
  const batchSize = ctx.policies.alertRouting.incidents.batch_size;
  const backoff = ctx.policies.alertRouting.work.backoff_seconds;
  const consumer = await ctx.js.consumers.get(a.workStream, a.workConsumer);
  let stopping = false;
  const stopped = new AbortController();

  const retryDelayMs = (m: JsMsg) => (backoff[Math.min(m.info.deliveryCount - 1, backoff.length - 1)] ?? 30) * 1000;
  const settle = async (batch: JsMsg[]) => {
    let sorted: Sorted;
    const commit = async () => {
      const s = await sortBatch(batch, alerts, logger);
      const absorbed = await bridge.absorb(s.live.map((x) => x.alert));
      const ackedAt = ctx.now().toISOString();
      // The store mirrors the outcome before JetStream hears it: a lost ack finds it settled.
      await alerts.updateStates(
        s.live.map(({ m, alert }, i) => ({
          alert_ref: alert.alert_ref,
          patch: { status: "acked", owner, acked_at: ackedAt, ack_note: `incident ${absorbed[i]!.incident_id}`, lock_until: null, attempts: m.info.deliveryCount },
        })),
      );
      return s;
    };
    try {
      // A transient failure (store unreachable, pool exhausted) is retried here while the batch is
      // held (+WPI keeps the lock), so it spends none of the alerts' max_deliver: only a stop or a
      // deterministic failure gives the batch back. A replayed absorb writes nothing new.
      sorted = await retryTransient(commit, {
        signal: stopped.signal,
        onRetry: (err, retry, delayMs) => {
          for (const m of batch) m.working();
          logger.warn({ err, retry, delay_ms: delayMs, batch: batch.length }, "triage batch hit a transient failure; retrying (no delivery spent)");
        },
      });
    } catch (err) {
      const first = batch[0];
      const delayS = backoff[Math.min((first?.info.deliveryCount ?? 1) - 1, backoff.length - 1)] ?? 30;
      logger.error({ err, batch: batch.length, first_seq: first?.seq, delay_s: delayS }, "triage batch failed; nak for redelivery");
      for (const m of batch) m.nak(delayS * 1000);
      ctx.metrics?.alertRetries.inc({ worker: "triage" }, batch.length);
      return;
    }
    for (const { m } of sorted.live) m.ack();
    // The alert loop closes here: incident committed, alert acked in the store and in JetStream.
    const closedAt = ctx.now().getTime();
    for (const { alert } of sorted.live) ctx.metrics?.recordAlertLoop(closedAt - Date.parse(alert.created_at));
    for (const m of sorted.done) m.ack();
    for (const m of sorted.drop) m.term();
    // After max_deliver attempts the work item is exhausted (the gateway marks a known alert dead).
    for (const m of sorted.unknown) m.nak(retryDelayMs(m));
  };

  // One pull request at a time, at most a batch ahead of the one being committed: consume()
  // would keep pulling while batches commit, so one worker would hoard the whole backlog (up to
  // the consumer's max_ack_pending), starve its peers and let held deliveries outlive ack_wait.
  // Messages are committed as they arrive (group commit), so a lone alert waits for no expiry.
  let buffer: JsMsg[] = [];
  let pumping: Promise<void> | undefined;
  const pump = async () => {
    while (buffer.length && !stopping) await settle(buffer.splice(0, batchSize));
  };
  const kick = () => {
    pumping ??= pump().finally(() => (pumping = undefined));
  };
  const loop = (async () => {
    while (!stopping) {
      try {
        const it = await consumer.fetch({ max_messages: batchSize, expires: FETCH_EXPIRES_MS });
        for await (const m of it) {
          if (stopping) m.nak(STOPPING_NAK_DELAY_MS);
          else {
            if (m.info.deliveryCount > 1) ctx.metrics?.alertRedeliveries.inc({ worker: "triage" });
            buffer.push(m);
            if (!pumping) setImmediate(kick);
          }
        }
      } catch (err) {
        if (stopping) break;
        logger.warn({ err }, "fetch from the work consumer failed; retrying in 1 s");
        await new Promise((r) => setTimeout(r, 1000));
      }
      while (buffer.length >= batchSize && pumping) await pumping;
    }
    await pumping;
    for (const m of buffer.splice(0)) m.nak();
  })();

  const sweepMs = ctx.policies.incidentEscalation.sweep_interval_seconds * 1000;
  const sweep = setInterval(() => {
    void bridge.sweepEscalations().catch((err) => logger.warn({ err }, "escalation sweep failed"));
  }, sweepMs);
  sweep.unref();

  logger.info({ batchSize }, "triage worker started");
  return {
    name: "triage",
    async stop() {
      stopping = true;
      stopped.abort();
      clearInterval(sweep);
      await loop;
      logger.info("triage worker stopped");
    },
  };
}
