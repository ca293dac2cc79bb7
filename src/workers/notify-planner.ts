/**
 * The notification planner: reads incident events off OPS_EVENTS (its own durable consumer), turns
 * each notified moment into one notification per matched receiver, writes each as `pending` to the
 * sent-log and enqueues it on the outbox with Nats-Msg-Id = its key, then acks the event. A planner
 * killed half way has the event redelivered: the keys are the same, so nothing is enqueued twice.
 * Also the repeat sweep: open, unacknowledged incidents get their route's `repeat_interval`
 * re-notification, keyed by its slot so every sweeper enqueues the same one.
 */
import type { AlertStore } from "../alerts/store.js";
import type { IncidentRecord, IncidentStore, NewIncidentEvent } from "../incidents/store.js";
import type { Logger } from "../log.js";
import { momentOf, repeatMoment, type IncidentEventIn } from "../notify/moments.js";
import { planNotifications, repeatDue, type PlannedRoute, type ReceiverState, type Skipped } from "../notify/plan.js";
import { pendingRecord, SentLogConflict, type SentLog } from "../notify/sent-log.js";
import { alertSummary, incidentSnapshot } from "../notify/snapshot.js";
import type { AlertSummary, IncidentMoment, IncidentSnapshot, Notification, NotificationRecord } from "../notify/types.js";
import { EventEnvelope } from "../subjects/index.js";

/** Alerts a notification lists at most (the newest of the incident's). */
export const MAX_ALERTS_LISTED = 20;

export interface NotifyPlannerDeps {
  incidents: IncidentStore;
  alerts: Pick<AlertStore, "getMany">;
  sentLog: SentLog;
  /** The routes an incident's labels match now, resolved (receiver, group, timings, mute state). */
  routesFor(incident: IncidentSnapshot, now: Date): PlannedRoute[];
  receiver(name: string): ReceiverState | undefined;
  /** Publishes to the outbox with Nats-Msg-Id = key; resolves on PubAck. */
  enqueue(n: Notification): Promise<void>;
  ackUrl?(incidentId: string, key: string): string | undefined;
  externalUrl: string;
  now(): Date;
  logger: Logger;
}

const dec = new TextDecoder();

/** An OPS_EVENTS delivery as the planner reads it; undefined for what it cannot read (terminated by the caller). */
export function readIncidentEvent(m: { data: Uint8Array; msg_id?: string; stream_seq: number }): IncidentEventIn | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(m.data));
  } catch {
    return undefined;
  }
  const env = EventEnvelope.safeParse(raw);
  if (!env.success) return undefined;
  return { type: env.data.type, ts: env.data.ts, data: env.data.data, envelope_id: env.data.id, stream_seq: m.stream_seq, ...(m.msg_id ? { msg_id: m.msg_id } : {}) };
}

export class NotifyPlanner {
  /** The planning in flight per incident: one incident's events are planned in the order they arrived. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly d: NotifyPlannerDeps) {}

  /**
   * One incident event: the notifications it makes are in the sent-log and the outbox when this
   * resolves. Events of one incident wait for the ones before them (the consume loop hands them
   * over in stream order), so an `acknowledged` is never recorded before its `opened`.
   */
  handleEvent(e: IncidentEventIn): Promise<{ enqueued: string[]; skipped: Skipped[] }> {
    const moment = momentOf(e);
    if (!moment) return Promise.resolve({ enqueued: [], skipped: [] });
    const before = this.chains.get(moment.incident_id) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.planEvent(e, moment));
    this.chains.set(moment.incident_id, mine);
    void mine.catch(() => undefined).finally(() => {
      if (this.chains.get(moment.incident_id) === mine) this.chains.delete(moment.incident_id);
    });
    return mine;
  }

  private async planEvent(e: IncidentEventIn, moment: IncidentMoment): Promise<{ enqueued: string[]; skipped: Skipped[] }> {
    const incident = await this.d.incidents.get(moment.incident_id);
    if (!incident) {
      this.d.logger.warn({ incident_id: moment.incident_id, event: e.type }, "incident event for an unknown incident; nobody notified");
      return { enqueued: [], skipped: [] };
    }
    return this.planMoment(moment, incident);
  }

  /** `onlyReceiver`: a repeat (or a replay) is for one receiver (each route has its own repeat_interval). */
  async planMoment(moment: IncidentMoment, record: IncidentRecord, onlyReceiver?: string, replay?: number): Promise<{ enqueued: string[]; skipped: Skipped[] }> {
    const now = this.d.now();
    const incident = incidentSnapshot(record);
    const routes = this.d.routesFor(incident, now).filter((r) => onlyReceiver === undefined || r.receiver === onlyReceiver);
    const { notifications, skipped } = planNotifications({
      moment,
      incident,
      alerts: await this.alertsOf(record, now),
      routes,
      receiver: (name) => this.d.receiver(name),
      now,
      external_url: this.d.externalUrl,
      ...(this.d.ackUrl ? { ackUrl: this.d.ackUrl } : {}),
    });
    const enqueued: string[] = [];
    for (const n of notifications) {
      if (await this.enqueueOnce(replay === undefined ? n : { ...n, replay }, now)) enqueued.push(n.key);
    }
    if (skipped.length) await this.noteSkipped(moment, skipped, now);
    return { enqueued, skipped };
  }

  /** Records it pending (unless already recorded) and enqueues it; false when it was settled before. */
  private async enqueueOnce(n: Notification, now: Date): Promise<boolean> {
    let revision: number | undefined;
    try {
      revision = await this.d.sentLog.put(pendingRecord(n, now), 0);
    } catch (err) {
      if (!(err instanceof SentLogConflict)) throw err;
      const held = await this.d.sentLog.get(n.key);
      // Settled already: a replayed event. Pending: enqueued before a kill, or not; the outbox dedupes by key.
      if (held && held.record.status !== "pending") return false;
    }
    await this.d.enqueue(revision === undefined ? n : { ...n, log_revision: revision });
    return true;
  }

  /**
   * The newest alerts the incident absorbed, its opening alert first: no read at all for an
   * incident without alerts (one opened by hand), else one timeline read and one alert read.
   */
  private async alertsOf(incident: IncidentRecord, now: Date): Promise<AlertSummary[]> {
    if (!incident.alert_count) return [];
    const events = await this.d.incidents.events({ incident_ids: [incident.id], type: "alert", limit: 100_000 });
    let refs = [...new Set(events.map((ev) => ev.meta.alert_ref).filter((r): r is string => typeof r === "string"))].slice(-MAX_ALERTS_LISTED);
    // The bridge keeps the alert that opened the incident among its labels.
    const first = incident.labels.first_alert_ref;
    if (typeof first === "string" && !refs.includes(first)) refs = [first, ...refs.slice(1 - MAX_ALERTS_LISTED)];
    if (!refs.length) return [];
    const alerts = await this.d.alerts.getMany(refs);
    return alerts.map((a) => alertSummary(a, now));
  }

  private async noteSkipped(moment: IncidentMoment, skipped: Skipped[], now: Date): Promise<void> {
    const ev: NewIncidentEvent = {
      type: "note",
      message: `${moment.kind}: not notified: ${skipped.map((s) => `${s.receiver} (${s.reason})`).join("; ")}`,
      author: "notifier",
      meta: { notification: "skipped", moment: moment.kind, moment_id: moment.moment_id, skipped },
      dedupe_key: `notify-skipped:${moment.incident_id}.${moment.moment_id}`,
      ts: now.toISOString(),
    };
    try {
      await this.d.incidents.appendEvent(moment.incident_id, ev, now);
    } catch (err) {
      this.d.logger.warn({ err, incident_id: moment.incident_id }, "could not note skipped notifications on the timeline");
    }
  }

  /**
   * `notification_tool.retry`: the failed (or skipped) notification goes back to pending, its
   * give_up_after counted from now, and is planned again for its receiver (the incident as it is
   * now, the routes as configured now) under a fresh outbox message id.
   */
  async replay(record: NotificationRecord, by: string): Promise<{ key: string; enqueued: boolean }> {
    // An alert group's flush is not replayed: the group's next flush tells the receiver where it stands.
    if (record.incident_id === undefined || record.moment === "alert_group") return { key: record.key, enqueued: false };
    const held = await this.d.sentLog.get(record.key);
    if (!held || held.record.status === "pending" || held.record.status === "delivered") return { key: record.key, enqueued: false };
    const incident = await this.d.incidents.get(record.incident_id);
    if (!incident) return { key: record.key, enqueued: false };
    const now = this.d.now().toISOString();
    const { error: _e, failed_at: _f, ...rest } = held.record;
    await this.d.sentLog.put({ ...rest, status: "pending", retried_by: by, created_at: now, updated_at: now }, held.revision);
    const moment: IncidentMoment = { kind: record.moment, incident_id: record.incident_id, moment_id: record.moment_id, at: record.moment_at, seq: record.seq };
    const planned = await this.planMoment(moment, incident, record.receiver, held.record.attempts.length);
    return { key: record.key, enqueued: planned.enqueued.includes(record.key) };
  }

  /**
   * The repeat sweep: for each open, unacknowledged incident, each route with a `repeat_interval`
   * whose receiver was last told (of a moment other than a repeat) at least that long ago gets the
   * repeat of that slot. Returns the keys enqueued.
   */
  async sweepRepeats(openIncidents: readonly IncidentRecord[]): Promise<string[]> {
    const now = this.d.now();
    const out: string[] = [];
    for (const record of openIncidents) {
      const incident = incidentSnapshot(record);
      if (incident.acknowledged_at || incident.status === "closed") continue;
      const age = now.getTime() - Date.parse(record.created_at);
      // Nothing told about it can be older than the incident: no repeat is due before its interval has passed once.
      const routes = this.d.routesFor(incident, now).filter((r) => r.repeat_interval_ms > 0 && r.repeat_interval_ms <= age && !r.muted_by);
      if (!routes.length) continue;
      const told = (await this.d.sentLog.ofIncident(record.id)).filter((r) => r.status === "delivered");
      for (const route of routes) {
        const last = told.filter((r) => r.receiver === route.receiver && r.moment !== "repeat" && r.moment !== "resolved").at(-1);
        if (!last) continue;
        const due = repeatDue(last.moment_at, last.moment_id, route.repeat_interval_ms, now);
        if (!due) continue;
        const n = Number(due.moment_id.slice(due.moment_id.lastIndexOf("-") + 1));
        const moment: IncidentMoment = { ...repeatMoment(record.id, n, now), moment_id: due.moment_id };
        if (await this.d.sentLog.get(`${record.id}.${due.moment_id}.${route.receiver}`)) continue;
        const planned = await this.planMoment(moment, record, route.receiver);
        out.push(...planned.enqueued);
      }
    }
    return out;
  }
}
