/**
 * Claim / ack / fail on the alert work consumer. A claim is a JetStream delivery (lock = ack_wait);
 * the store mirrors it (status, owner, lock_until, delivery) so any process can settle it by
 * publishing to the delivery's ack subject. The store is written first: if the JetStream settle
 * is then lost, the redelivery finds the alert already settled and finishes the job.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { AlertRoutingPolicy } from "../config/policies.js";
import { conflict, invalid, notFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import { pullNoWait, type PulledMessage } from "../nats/pull.js";
import { scheduledRetryDelay, settleByReply, settleByReplyConfirmed, type Settlement } from "../nats/settle.js";
import { AlertWorkItem, type AlertRecord, type Subjects } from "../subjects/index.js";
import { effectiveStatus, type AlertStore } from "./store.js";
import { startResolveSweep } from "./resolve-sweep.js";
import { isTransient, retryTransient } from "../util/transient.js";

export interface AlertWorkDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  store: AlertStore;
  events: EventPublisher;
  subjects: Subjects;
  policy: AlertRoutingPolicy;
  logger: Logger;
  now(): Date;
  /** Where a settled claim's alert-loop latency (accepted → acked) goes, as the triage worker's does. */
  metrics?: { recordAlertLoop(ms: number): void };
}

export type ClaimedAlert = AlertRecord & { claim_id: string };
export interface SettleOptions {
  owner?: string;
  /** `<stream_seq>.<delivery_count>` as returned by claim; refuses a claim that is no longer current. */
  claim_id?: string;
}

const claimId = (seq: number, delivery: number) => `${seq}.${delivery}`;
/** Inside the work stream's 15-minute duplicate window, with margin. */
export const WORK_REPAIR_WINDOW_MINUTES = 10;
/** Younger alerts may still have their publish in flight. */
export const WORK_REPAIR_MIN_AGE_MS = 30_000;
const enc = new TextEncoder();

export class AlertWork {
  private readonly leaseTimers = new Map<string, NodeJS.Timeout>();
  constructor(private readonly d: AlertWorkDeps) {}

  /** The work queue's configured schedule (`work.backoff_seconds`), as the triage worker's. */
  private get retryDelayMs() {
    return scheduledRetryDelay(this.d.policy.work.backoff_seconds);
  }

  get ackWaitSeconds(): number {
    return this.d.policy.work.ack_wait_seconds;
  }

  /** Hands out up to `limit` alerts; two claimers never get the same delivery. */
  async claim(opts: { limit: number; owner: string; lock_ttl_seconds?: number }): Promise<ClaimedAlert[]> {
    const ttl = opts.lock_ttl_seconds ?? this.ackWaitSeconds;
    if (ttl > this.ackWaitSeconds) throw invalid(`lock_ttl_seconds must be ≤ ack_wait (${this.ackWaitSeconds})`);
    const a = this.d.subjects.alerts;
    const pulled = await pullNoWait(this.d.nc, a.workStream, a.workConsumer, opts.limit);
    const claimed: ClaimedAlert[] = [];
    for (const [i, m] of pulled.entries()) {
      try {
        // A store blip is waited out briefly (the caller is waiting); a longer outage gives the
        // deliveries back at once rather than leaving them locked, unclaimed, for ack_wait.
        const alert = await retryTransient(() => this.adopt(m, opts.owner, ttl), { maxRetries: 2, baseMs: 200, maxDelayMs: 1000 });
        if (alert) claimed.push(alert);
      } catch (err) {
        for (const rest of pulled.slice(i)) settleByReply(this.d.nc, rest.reply, { kind: "nak" });
        if (claimed.length && isTransient(err)) {
          this.d.logger.warn({ err, claimed: claimed.length, returned: pulled.length - i }, "claim cut short by a transient store failure");
          return claimed;
        }
        throw err;
      }
    }
    return claimed;
  }

  /** Records one delivery as a claim, or settles deliveries that need no claimer. */
  private async adopt(m: PulledMessage, owner: string, ttlSeconds: number): Promise<ClaimedAlert | null> {
    const log = this.d.logger.child({ stream_seq: m.info.stream_seq, delivery: m.info.delivery_count });
    let item: AlertWorkItem;
    try {
      item = AlertWorkItem.parse(JSON.parse(new TextDecoder().decode(m.data)));
    } catch {
      log.error("work item is not {alert_ref}; terminated");
      settleByReply(this.d.nc, m.reply, { kind: "term" });
      return null;
    }
    const current = await this.d.store.get(item.alert_ref);
    if (!current) {
      // Not known (yet): while Postgres is down the store is a fallback that may not have it, so the
      // work comes back with the backoff instead of being dropped (exhausted after max_deliver).
      log.warn({ alert_ref: item.alert_ref }, "work for an unknown alert; retried later");
      settleByReply(this.d.nc, m.reply, { kind: "nak", delayMs: this.retryDelayMs(m.info.delivery_count) });
      return null;
    }
    if (current.status === "acked" || current.dead) {
      // Settled earlier but the JetStream ack was lost: finish it now.
      settleByReply(this.d.nc, m.reply, { kind: current.status === "acked" ? "ack" : "term" });
      return null;
    }
    const now = this.d.now();
    const lockUntil = new Date(now.getTime() + ttlSeconds * 1000);
    const updated = await this.d.store.updateState(item.alert_ref, {}, {
      status: "processing",
      owner,
      lock_until: lockUntil.toISOString(),
      attempts: m.info.delivery_count,
      retry_at: null,
      delivery: { stream_seq: m.info.stream_seq, delivery_count: m.info.delivery_count, reply: m.reply },
    });
    if (!updated) return null;
    if (ttlSeconds < this.ackWaitSeconds) this.armLease(item.alert_ref, m, ttlSeconds);
    return { ...updated, claim_id: claimId(m.info.stream_seq, m.info.delivery_count) };
  }

  /** A lock shorter than ack_wait: give the alert back when it lapses (ack_wait is the backstop). */
  private armLease(ref: string, m: PulledMessage, ttlSeconds: number): void {
    const timer = setTimeout(() => {
      this.leaseTimers.delete(ref);
      void this.d.store.get(ref).then((cur) => {
        if (cur?.status === "processing" && cur.delivery?.delivery_count === m.info.delivery_count) settleByReply(this.d.nc, m.reply, { kind: "nak" });
      }).catch(() => undefined);
    }, ttlSeconds * 1000);
    timer.unref();
    this.leaseTimers.set(ref, timer);
  }

  private async currentClaim(ref: string, opts: SettleOptions): Promise<AlertRecord> {
    const cur = await this.d.store.get(ref);
    if (!cur) throw notFound(`alert ${ref} not found`);
    const status = effectiveStatus(cur, this.d.now());
    if (status !== "processing" || !cur.delivery) {
      throw conflict(`alert ${ref} is not claimed (status ${status}); claim it first`, { status });
    }
    if (opts.owner && cur.owner !== opts.owner) throw conflict(`alert ${ref} is claimed by another owner`, { owner: cur.owner });
    if (opts.claim_id && opts.claim_id !== claimId(cur.delivery.stream_seq, cur.delivery.delivery_count)) {
      throw conflict(`claim ${opts.claim_id} on ${ref} is stale; the alert was redelivered`, { current: claimId(cur.delivery.stream_seq, cur.delivery.delivery_count) });
    }
    return cur;
  }

  private clearLease(ref: string): void {
    const t = this.leaseTimers.get(ref);
    if (t) clearTimeout(t);
    this.leaseTimers.delete(ref);
  }

  async ack(ref: string, opts: SettleOptions & { note?: string }): Promise<AlertRecord> {
    const existing = await this.d.store.get(ref);
    if (existing?.status === "acked") return existing;
    const cur = await this.currentClaim(ref, opts);
    const delivery = cur.delivery!;
    const updated = await this.d.store.updateState(ref, { status: "processing", delivery_count: delivery.delivery_count }, {
      status: "acked",
      acked_at: this.d.now().toISOString(),
      ack_note: opts.note ?? null,
      lock_until: null,
    });
    if (!updated) throw conflict(`alert ${ref} changed while acking; re-read it`);
    this.clearLease(ref);
    await this.confirm(delivery.reply, { kind: "ack" });
    this.d.metrics?.recordAlertLoop(Date.parse(updated.acked_at!) - Date.parse(updated.created_at));
    await this.d.events.publish("alert.acked", { alert_ref: ref, owner: cur.owner, note: opts.note }, `${ref}`);
    return updated;
  }

  async fail(ref: string, opts: SettleOptions & { error: string; retry_after_seconds?: number }): Promise<AlertRecord> {
    const cur = await this.currentClaim(ref, opts);
    const delivery = cur.delivery!;
    const w = this.d.policy.work;
    const dead = delivery.delivery_count >= w.max_deliver;
    const delayMs = opts.retry_after_seconds !== undefined ? opts.retry_after_seconds * 1000 : this.retryDelayMs(delivery.delivery_count);
    const now = this.d.now();
    const updated = await this.d.store.updateState(ref, { status: "processing", delivery_count: delivery.delivery_count }, {
      status: "failed",
      last_error: opts.error,
      lock_until: null,
      dead,
      retry_at: dead ? null : new Date(now.getTime() + delayMs).toISOString(),
    });
    if (!updated) throw conflict(`alert ${ref} changed while failing; re-read it`);
    this.clearLease(ref);
    if (dead) {
      await this.confirm(delivery.reply, { kind: "term" });
      await this.d.events.publish("alert.dead", { alert_ref: ref, attempts: delivery.delivery_count, last_error: opts.error }, ref);
    } else {
      await this.confirm(delivery.reply, { kind: "nak", delayMs });
      await this.d.events.publish("alert.failed", { alert_ref: ref, attempts: delivery.delivery_count, error: opts.error, retry_at: updated.retry_at }, `${ref}:${delivery.delivery_count}`);
    }
    return updated;
  }

  /** Publishes a settle to the delivery's ack subject and waits for the server's confirmation. */
  private async confirm(reply: string, s: Settlement): Promise<void> {
    try {
      await settleByReplyConfirmed(this.d.nc, reply, s);
    } catch (err) {
      // The store already holds the outcome; a redelivery will find it settled and finish the job.
      this.d.logger.warn({ err, reply }, "settle not confirmed by JetStream; redelivery will reconcile");
    }
  }

  /**
   * `max_deliver` exhausted without a `fail` (the last lock expired): mark the alert failed for
   * good. The server announces it with an advisory that carries the work message's sequence.
   */
  async markExhausted(streamSeq: number, deliveries: number): Promise<void> {
    const a = this.d.subjects.alerts;
    const msg = await this.d.jsm.streams.getMessage(a.workStream, { seq: streamSeq }).catch(() => null);
    if (!msg) return;
    const item = AlertWorkItem.safeParse(msg.json());
    if (!item.success) return;
    const ref = item.data.alert_ref;
    const cur = await this.d.store.get(ref);
    if (!cur || cur.status === "acked" || cur.dead) return;
    const updated = await this.d.store.updateState(ref, {}, {
      status: "failed",
      dead: true,
      retry_at: null,
      lock_until: null,
      last_error: `max_deliver (${deliveries}) exhausted: lock expired on the last attempt`,
    });
    if (updated) await this.d.events.publish("alert.dead", { alert_ref: ref, attempts: deliveries, last_error: updated.last_error }, ref);
    // The record keeps the alert for inspection; the dead work item leaves the queue.
    await this.d.jsm.streams.deleteMessage(a.workStream, streamSeq, false).catch(() => undefined);
  }

  /**
   * The advisory only comes when the server next tries to deliver (on a later pull), so a sweep
   * also finds alerts whose last allowed delivery lapsed: they will never be delivered again.
   */
  async reapExhausted(): Promise<number> {
    const now = this.d.now();
    // Read from the claims alone (an indexed lookup), not from every alert of the last week.
    const lapsed = await this.d.store.lapsedClaims(now, this.d.policy.work.max_deliver, 500);
    for (const a of lapsed) await this.markExhausted(a.delivery!.stream_seq, a.delivery!.delivery_count);
    return lapsed.length;
  }

  /**
   * An alert committed by the store whose work item was never accepted by JetStream (the publish
   * failed after the commit) would never be claimed. Republish work for never-claimed alerts young
   * enough that the stream's duplicate window drops the ones whose work item exists, so this never
   * creates a second delivery.
   */
  async republishMissingWork(): Promise<number> {
    const now = this.d.now().getTime();
    const a = this.d.subjects.alerts;
    const young = await this.d.store.list({ status_in: ["new"], window_minutes: WORK_REPAIR_WINDOW_MINUTES, limit: 500 }, this.d.now());
    const candidates = young.filter(
      (x) => x.attempts === 0 && !x.delivery && now - Date.parse(x.created_at) >= WORK_REPAIR_MIN_AGE_MS && now - Date.parse(x.created_at) < WORK_REPAIR_WINDOW_MINUTES * 60_000,
    );
    const acks = await Promise.all(
      candidates.map((x) => this.d.js.publish(a.work(x.service), enc.encode(JSON.stringify({ alert_ref: x.alert_ref })), { msgID: `work:${x.alert_ref}` })),
    );
    const repaired = acks.filter((ack) => !ack.duplicate).length;
    if (repaired) this.d.logger.warn({ repaired }, "republished work items missing for committed alerts");
    return repaired;
  }

  /** Watches for alerts that exhausted max_deliver (advisory + sweep) and sweeps ends_at (resolve-sweep.ts). Returns a stop function. */
  watchExhausted(): () => void {
    const sweepMs = Math.min(this.ackWaitSeconds * 1000, 30_000);
    const sweep = setInterval(() => {
      void this.reapExhausted().catch((err) => this.d.logger.warn({ err }, "exhausted-alert sweep failed"));
      void this.republishMissingWork().catch((err) => this.d.logger.warn({ err }, "work repair sweep failed"));
    }, sweepMs);
    sweep.unref();
    const stopResolving = startResolveSweep(this.d);
    const a = this.d.subjects.alerts;
    const sub = this.d.nc.subscribe(a.workExhaustedAdvisory, {
      callback: (err, m) => {
        if (err) return;
        try {
          const adv = m.json<{ stream_seq: number; deliveries: number }>();
          void this.markExhausted(adv.stream_seq, adv.deliveries).catch((e) => this.d.logger.error({ err: e }, "marking exhausted alert failed"));
        } catch (e) {
          this.d.logger.warn({ err: e }, "unreadable max-deliveries advisory");
        }
      },
    });
    return () => {
      clearInterval(sweep);
      stopResolving();
      sub.unsubscribe();
      for (const t of this.leaseTimers.values()) clearTimeout(t);
      this.leaseTimers.clear();
    };
  }
}

