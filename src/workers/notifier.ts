/**
 * The notifier: takes notifications off the outbox (one shared durable consumer; several
 * processes), and for each checks the sent-log, waits its turn (group_wait, an earlier moment of
 * the same incident still unsent, group_interval, the receiver's rate), claims it with a
 * compare-and-set, sends it with its key as the receiver's dedupe key, records the outcome, and
 * only then acks. A notifier killed between send and record leaves a claim that runs out; the
 * redelivery sends again with the same key (the one window for a duplicate: receivers that dedupe
 * by key see it once). Every attempt goes on the incident's timeline (an alert group's notification
 * has no incident: its attempts are in the sent-log, events and metrics only).
 */
import type { IncidentStore } from "../incidents/store.js";
import type { Logger } from "../log.js";
import { afterAttempt, DEFAULT_RETRY, type AfterAttempt, type DeliverySettings } from "../notify/delivery.js";
import { claimedByOther, pendingRecord, plannedRecord, SentLogConflict, waitForEarlier, waitForEarlierFlush, type SentLog, type StoredNotification } from "../notify/sent-log.js";
import type { Integration, Notification, NotificationRecord, SendResult } from "../notify/types.js";
import { NotifyItem } from "../subjects/index.js";
import { UnreadableDelivery, type MessageHelpers } from "../nats/consumer.js";

/** No wait between checks is longer: a test clock or an early ack is noticed within this. */
export const MAX_RECHECK_MS = 5_000;
/** An earlier moment still unsent holds a later one back at most this long (it may never come). */
export const MAX_ORDER_WAIT_MS = 10 * 60_000;
/** A claim outlives the receiver's timeout by this much before another notifier may take over. */
const CLAIM_MARGIN_MS = 15_000;

export interface ReceiverRuntime {
  integration: Integration;
  settings: DeliverySettings & { timeoutMs: number; ratePerSecond?: number };
}

export interface NotifierDeps {
  sentLog: SentLog;
  incidents: Pick<IncidentStore, "get" | "appendEvent">;
  /** A configured, enabled receiver by name (undefined: removed from config, or off). */
  receiver(name: string): ReceiverRuntime | undefined;
  onOutcome(n: Notification, after: AfterAttempt | { kind: "skipped"; record: NotificationRecord }, latencyMs: number): Promise<void>;
  nodeId: string;
  now(): Date;
  logger: Logger;
}

const dec = new TextDecoder();

export function parseNotification(data: Uint8Array): Notification {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch {
    throw new UnreadableDelivery("notification is not JSON");
  }
  const r = NotifyItem.safeParse(raw);
  if (!r.success) throw new UnreadableDelivery(`not a notification: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return raw as Notification;
}

/** Spaces sends to one receiver `1 / ratePerSecond` apart within this process. */
class RateGate {
  private readonly next = new Map<string, number>();
  /** 0: go now (and the slot is taken); else ms to wait. */
  take(receiver: string, ratePerSecond: number | undefined, nowMs: number): number {
    if (!ratePerSecond || ratePerSecond <= 0) return 0;
    const at = this.next.get(receiver) ?? 0;
    if (at > nowMs) return at - nowMs;
    this.next.set(receiver, nowMs + 1000 / ratePerSecond);
    return 0;
  }
}

type Settle = Pick<MessageHelpers, "ack" | "nak" | "working" | "logger">;

export class Notifier {
  private readonly gate = new RateGate();
  constructor(private readonly d: NotifierDeps) {}

  async handle(n: Notification, h: Settle): Promise<void> {
    const now = this.d.now();
    // The record as its planner wrote it, when the message says at which revision: claimed without a read.
    const planned = plannedRecord(n);
    if (planned && (await this.deliver(n, planned, now, h)) !== "stale") return;
    const held = (await this.d.sentLog.get(n.key)) ?? (await this.open(n, now));
    if ((await this.deliver(n, held, now, h)) === "stale") h.nak(1_000);
  }

  /** Sends `n` as the sent-log holds it (`held`) and settles it; "stale" when the claim found it changed since. */
  private async deliver(n: Notification, held: StoredNotification, now: Date, h: Settle): Promise<"settled" | "stale"> {
    if (held.record.status !== "pending") {
      h.ack();
      return "settled";
    }
    const rt = this.d.receiver(n.receiver);
    if (!rt) return this.settleWithout(n, held, "failed", `receiver ${n.receiver} is not configured or is off`, h);
    const waitMs = await this.turnWait(n, held.record, rt, now);
    if (waitMs > 0) {
      h.nak(Math.min(waitMs, MAX_RECHECK_MS));
      return "settled";
    }
    if (n.moment?.kind === "repeat") {
      const inc = await this.d.incidents.get(n.moment.incident_id);
      const acked = (inc as { acknowledged_at?: string } | null)?.acknowledged_at;
      if (!inc || inc.status === "closed" || acked) return this.settleWithout(n, held, "skipped", "incident acknowledged or closed before the repeat was sent", h);
    }
    const claimed = await this.claim(held, rt, now);
    if (!claimed) return "stale";
    h.working();
    const started = performance.now();
    const result = await this.send(rt, n);
    const latency = performance.now() - started;
    const after = await this.record(n, claimed, result, rt, latency);
    h.logger.info(
      { key: n.key, receiver: n.receiver, outcome: after.kind, status: result.status, attempt: after.record.attempts.length, ...(result.outcome !== "delivered" ? { error: result.error } : {}) },
      "notification attempt",
    );
    await this.d.onOutcome(n, after, latency);
    if (after.kind === "retry") h.nak(after.delayMs);
    else h.ack();
    return "settled";
  }

  private async open(n: Notification, now: Date): Promise<StoredNotification> {
    const record = pendingRecord(n, now);
    try {
      return { record, revision: await this.d.sentLog.put(record, 0) };
    } catch (err) {
      if (!(err instanceof SentLogConflict)) throw err;
      return (await this.d.sentLog.get(n.key))!;
    }
  }

  /** Ms until it may be sent: group_wait, an earlier moment or group_interval, another notifier's claim, the rate. */
  private async turnWait(n: Notification, r: NotificationRecord, rt: ReceiverRuntime, now: Date): Promise<number> {
    const nowMs = now.getTime();
    if (n.not_before && Date.parse(n.not_before) > nowMs) return Date.parse(n.not_before) - nowMs;
    if (claimedByOther(r, this.d.nodeId, now)) return Date.parse(r.sending_until!) - nowMs;
    if (n.group) {
      // A group's flushes in order (the flush kept group_interval already).
      if (n.group.seq > 1 && nowMs - Date.parse(r.created_at) < MAX_ORDER_WAIT_MS) {
        const wait = waitForEarlierFlush(n, await this.d.sentLog.ofGroup(n.group.id));
        if (wait > 0) return wait;
      }
    } else if (n.moment.kind !== "opened" && nowMs - Date.parse(r.created_at) < MAX_ORDER_WAIT_MS) {
      const wait = waitForEarlier(n, await this.d.sentLog.ofIncident(n.moment.incident_id), now);
      if (wait > 0) return wait;
    }
    return this.gate.take(n.receiver, rt.settings.ratePerSecond, nowMs);
  }

  private async claim(held: StoredNotification, rt: ReceiverRuntime, now: Date): Promise<StoredNotification | null> {
    const record: NotificationRecord = {
      ...held.record,
      sending_by: this.d.nodeId,
      sending_until: new Date(now.getTime() + rt.settings.timeoutMs + CLAIM_MARGIN_MS).toISOString(),
    };
    try {
      return { record, revision: await this.d.sentLog.put(record, held.revision) };
    } catch (err) {
      if (err instanceof SentLogConflict) return null;
      throw err;
    }
  }

  private async send(rt: ReceiverRuntime, n: Notification): Promise<SendResult> {
    try {
      return await rt.integration.send(n, AbortSignal.timeout(rt.settings.timeoutMs));
    } catch (err) {
      // An integration never throws; one that does is treated like a timeout, never as delivered.
      return { outcome: "retry", error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Writes the attempt over the claim; someone else's write since (an operator's retry) is re-read once. */
  private async record(n: Notification, claimed: StoredNotification, result: SendResult, rt: ReceiverRuntime, latencyMs: number): Promise<AfterAttempt> {
    const at = { now: this.d.now(), node_id: this.d.nodeId, latency_ms: latencyMs };
    const settings = { ...DEFAULT_RETRY, ...rt.settings };
    let after = afterAttempt(claimed.record, result, settings, at);
    try {
      await this.d.sentLog.put(after.record, claimed.revision);
    } catch (err) {
      if (!(err instanceof SentLogConflict)) throw err;
      const fresh = (await this.d.sentLog.get(n.key))!;
      after = afterAttempt(fresh.record, result, settings, at);
      await this.d.sentLog.put(after.record, fresh.revision);
    }
    return after;
  }

  private async settleWithout(n: Notification, held: StoredNotification, status: "failed" | "skipped", reason: string, h: Settle): Promise<"settled" | "stale"> {
    const at = this.d.now().toISOString();
    const record: NotificationRecord = { ...held.record, status, error: reason, updated_at: at, ...(status === "failed" ? { failed_at: at } : {}) };
    try {
      await this.d.sentLog.put(record, held.revision);
    } catch (err) {
      if (err instanceof SentLogConflict) return "stale";
      throw err;
    }
    await this.d.onOutcome(n, status === "failed" ? { kind: "failed", record, error: reason } : { kind: "skipped", record }, 0);
    h.ack();
    return "settled";
  }
}
