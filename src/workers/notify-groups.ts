/**
 * The alert-group planner, for routes with `notify: alert_groups`. Reads alert events off
 * OPS_EVENTS (its own durable consumer): `alert.accepted` (a firing that is not silenced,
 * inhibited or muted, or one just released) and `alert.resolved`. For each it reads the alert,
 * matches its labels against those routes and updates each matched route's group in the group
 * store (compare-and-set); the event is acked only once every group update is stored.
 * The flush sweep (every notifier, each second) takes due groups: a flush that tells the
 * receiver is first stored in the group as a pending flush (one writer wins the compare-and-set,
 * so there is one flush per sequence number cluster-wide), then written pending to the sent-log
 * and enqueued on the outbox under its key `<group>.<seq>.<receiver>`, then marked enqueued.
 * A planner killed in between leaves the pending flush to the next sweep, which enqueues the same
 * key again (the outbox and the sent-log dedupe it).
 */
import type { AlertStore } from "../alerts/store.js";
import type { Logger } from "../log.js";
import { GroupConflict, type GroupStore, type StoredGroup } from "../notify/group-store.js";
import {
  afterEnqueued,
  firingOf,
  flushGroup,
  groupId,
  groupNotificationKey,
  newGroup,
  observationOf,
  withFiring,
  withResolved,
  type GroupAlert,
  type GroupState,
  type GroupTiming,
  type PendingFlush,
} from "../notify/groups.js";
import type { IncidentEventIn } from "../notify/moments.js";
import type { ReceiverState } from "../notify/plan.js";
import { groupOf, matchRoutes, routeAt, routeMuted, usesAlertGroups, type MatchedRoute, type RouteTree } from "../notify/routes.js";
import { pendingRecord, SentLogConflict, type SentLog } from "../notify/sent-log.js";
import { alertSummary } from "../notify/snapshot.js";
import type { AlertSummary, GroupNotification } from "../notify/types.js";
import type { AlertRecord } from "../subjects/index.js";

/** Compare-and-set attempts on one group before the event is given back (redelivered later). */
const MAX_CAS_ATTEMPTS = 50;
/** A pending flush older than this is enqueued again by any sweeper (its planner may be dead). */
export const OUTBOX_RETRY_MS = 5_000;

export interface GroupPlannerDeps {
  alerts: Pick<AlertStore, "get" | "getMany">;
  groups: GroupStore;
  sentLog: SentLog;
  tree: RouteTree;
  receiver(name: string): ReceiverState | undefined;
  /** Publishes to the outbox with Nats-Msg-Id = key; resolves on PubAck. */
  enqueue(n: GroupNotification): Promise<void>;
  externalUrl: string;
  /**
   * The fingerprints of `alerts` a silence, a maintenance window or an inhibition holds back now:
   * left out of a flush (Alertmanager's mute stage), as they were accepted before it began.
   */
  heldBack?(alerts: AlertRecord[]): Promise<Set<string>>;
  now(): Date;
  logger: Logger;
}

const timingOf = (r: MatchedRoute): GroupTiming => ({ group_wait_ms: r.group_wait_ms, group_interval_ms: r.group_interval_ms, repeat_interval_ms: r.repeat_interval_ms });
const str = (v: unknown) => (typeof v === "string" && v.length ? v : undefined);

/** Alertmanager's alert order (types.AlertSlice): by job, then instance, then the label set. */
function alertOrder(a: AlertSummary, b: AlertSummary): number {
  for (const k of ["job", "instance"]) {
    const [x, y] = [a.labels[k], b.labels[k]];
    if (x === undefined && y === undefined) continue;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    if (x !== y) return x < y ? -1 : 1;
  }
  const text = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort(([p], [q]) => (p < q ? -1 : 1)));
  const [x, y] = [text(a.labels), text(b.labels)];
  return x < y ? -1 : x > y ? 1 : 0;
}

export class GroupPlanner {
  /** Some route asks for alert groups: else alert events are not read at all. */
  readonly active: boolean;

  constructor(private readonly d: GroupPlannerDeps) {
    this.active = usesAlertGroups(d.tree);
  }

  /** The routes with `notify: alert_groups` that `labels` land on. */
  private routesOf(labels: Record<string, string>): MatchedRoute[] {
    return matchRoutes(this.d.tree, labels).filter((r) => r.notify === "alert_groups");
  }

  /** One alert event: its groups are stored when this resolves. Other events are ignored. */
  async handleEvent(e: IncidentEventIn): Promise<{ groups: string[] }> {
    if (e.type !== "alert.accepted" && e.type !== "alert.resolved") return { groups: [] };
    const ref = str(e.data.alert_ref);
    if (!ref || e.data.known === false) return { groups: [] };
    const rec = await this.d.alerts.get(ref);
    if (!rec) {
      this.d.logger.warn({ alert_ref: ref, event: e.type }, "alert event for an unknown alert; no alert group told");
      return { groups: [] };
    }
    return this.observe(rec);
  }

  /**
   * The alert as its store holds it now, applied to each of its groups: whichever event is read
   * last brings the newest state, and an older observation never overwrites a newer one.
   */
  private async observe(rec: AlertRecord): Promise<{ groups: string[] }> {
    const now = this.d.now();
    const summary = alertSummary(rec, now);
    // Held back again since (a refire silenced): that firing pages nobody.
    if (summary.status === "firing" && rec.status === "suppressed") return { groups: [] };
    const resolved = summary.status === "resolved";
    const obs = observationOf(rec.occurrences, resolved);
    const touched: string[] = [];
    for (const route of this.routesOf(summary.labels)) {
      const ref = groupOf(route, summary.labels);
      const id = groupId(route.path, ref.group_key);
      const t = timingOf(route);
      const changed = await this.update(id, (held) => {
        if (resolved) return held ? withResolved(held, rec.fingerprint, rec.resolved_at ?? summary.ends_at ?? now.toISOString(), obs, t, now) : undefined;
        const base = held ?? newGroup({ id, group_key: ref.group_key, route_path: route.path, receiver: route.receiver, group_labels: ref.group_labels }, t, now);
        return withFiring(base, { alert_ref: rec.alert_ref, fingerprint: rec.fingerprint, starts_at: rec.starts_at, obs }, t, now);
      });
      if (changed) touched.push(id);
    }
    return { groups: touched };
  }

  /** Compare-and-set `change` onto the group until it lands; false when it changed nothing. */
  private async update(id: string, change: (held: GroupState | undefined) => GroupState | undefined): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const held = await this.d.groups.get(id);
      const next = change(held?.state);
      if (!next) return false;
      try {
        await this.d.groups.put(next, held?.revision ?? 0);
        return true;
      } catch (err) {
        if (!(err instanceof GroupConflict)) throw err;
      }
    }
    throw new Error(`alert group ${id}: too many concurrent writers`);
  }

  /** One sweep: every due group flushed, every pending flush enqueued. Returns the keys enqueued. */
  async sweep(): Promise<string[]> {
    const now = this.d.now();
    const out: string[] = [];
    for (const seen of await this.d.groups.due(now)) {
      try {
        const key = await this.flushOne(seen, now);
        if (key) out.push(key);
      } catch (err) {
        this.d.logger.warn({ err, group: seen.state.id, group_key: seen.state.group_key }, "alert group flush failed; the next sweep tries again");
      }
    }
    return out;
  }

  private async flushOne(seen: StoredGroup, now: Date): Promise<string | undefined> {
    let stored: StoredGroup = seen;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const g = stored.state;
      if (g.outbox) {
        // Someone's flush not yet confirmed on the outbox: its planner is at it, or was killed.
        if (now.getTime() - Date.parse(g.outbox.at) < OUTBOX_RETRY_MS) return undefined;
        return this.enqueueFlush(g, g.outbox, stored.revision);
      }
      if (Date.parse(g.next_flush_at) > now.getTime()) return undefined;
      const route = routeAt(this.d.tree, g.route_path);
      if (!route || route.notify !== "alert_groups" || route.receiver !== g.receiver || !g.group_key.startsWith(`${route.key}:`)) {
        // The routing tree changed under it: the group has no route any more.
        this.d.logger.info({ group: g.id, group_key: g.group_key, route: g.route_path }, "alert group dropped: its route changed or is gone");
        await this.d.groups.delete(g.id, stored.revision).catch((err) => (err instanceof GroupConflict ? undefined : Promise.reject(err)));
        return undefined;
      }
      // A quiet route tells nobody: what its alerts' silences say is not read then.
      const quiet = this.quiet(route, now);
      const outcome = flushGroup(g, timingOf(route), now, quiet, quiet ? undefined : await this.heldBack(g));
      try {
        if (outcome.kind === "delete") {
          await this.d.groups.delete(g.id, stored.revision);
          return undefined;
        }
        const revision = await this.d.groups.put(outcome.state, stored.revision);
        return outcome.flush ? this.enqueueFlush(outcome.state, outcome.flush, revision) : undefined;
      } catch (err) {
        if (!(err instanceof GroupConflict)) throw err;
      }
      // Lost the compare-and-set (an alert event, or another sweeper's flush): read it again.
      const fresh = await this.d.groups.get(g.id);
      if (!fresh) return undefined;
      stored = fresh;
    }
    return undefined;
  }

  /** The group's firing alerts that something holds back now (by fingerprint). */
  private async heldBack(g: GroupState): Promise<Set<string>> {
    const firing = firingOf(g);
    if (!this.d.heldBack || !firing.length) return new Set();
    return this.d.heldBack(await this.d.alerts.getMany(firing.map((a) => a.alert_ref)));
  }

  /** A muted route or a receiver that is off tells nobody now; the group keeps what is untold for later. */
  private quiet(route: MatchedRoute, now: Date): boolean {
    if (routeMuted(route, this.d.tree.intervals, now).muted) return true;
    const state = this.d.receiver(route.receiver);
    return !state || "off" in state;
  }

  /** Writes the flush pending to the sent-log, enqueues it, then clears it from the group. */
  private async enqueueFlush(g: GroupState, flush: PendingFlush, revision: number): Promise<string | undefined> {
    const state = this.d.receiver(g.receiver);
    const key = groupNotificationKey(g.id, flush.seq, g.receiver);
    if (state && !("off" in state)) {
      const n = await this.notificationOf(g, flush, state, key);
      let logRevision: number | undefined;
      try {
        // As of its created_at: the record a notifier rebuilds from the message (plannedRecord) is this one.
        logRevision = await this.d.sentLog.put(pendingRecord(n, new Date(n.created_at)), 0);
      } catch (err) {
        if (!(err instanceof SentLogConflict)) throw err;
      }
      await this.d.enqueue(logRevision === undefined ? n : { ...n, log_revision: logRevision });
    }
    // The flush is on the outbox: clear it (or delete a group with nothing left), re-reading on a lost race.
    let at: StoredGroup | null = { state: g, revision };
    for (let attempt = 0; at && attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const next = afterEnqueued(at.state, flush.seq);
      if (next === undefined) break;
      try {
        if (next === "delete") await this.d.groups.delete(g.id, at.revision);
        else await this.d.groups.put(next, at.revision);
        break;
      } catch (err) {
        if (!(err instanceof GroupConflict)) throw err;
        at = await this.d.groups.get(g.id);
      }
    }
    return key;
  }

  /** The outbox item of a flush: its alerts as the alert store shows them, with the status the flush told. */
  private async notificationOf(g: GroupState, flush: PendingFlush, state: { kind: GroupNotification["integration"]; max_alerts: number }, key: string): Promise<GroupNotification> {
    const now = this.d.now();
    const records = new Map((await this.d.alerts.getMany(flush.alerts.map((a) => a.alert_ref))).map((r) => [r.alert_ref, r]));
    const alerts = flush.alerts.map((a) => summaryOf(a, records.get(a.alert_ref), now)).sort(alertOrder);
    const shown = state.max_alerts > 0 ? alerts.slice(0, state.max_alerts) : alerts;
    const { alerts: _told, ...group } = flush;
    return {
      key,
      receiver: g.receiver,
      integration: state.kind,
      group,
      alerts: shown,
      truncated_alerts: alerts.length - shown.length + (g.untracked ?? 0),
      route: { path: g.route_path, group_key: g.group_key, group_labels: g.group_labels },
      created_at: now.toISOString(),
      group_interval_ms: 0,
      external_url: this.d.externalUrl,
    };
  }
}

/** An alert as the flush told it: firing ones without an end (as Alertmanager sends them), resolved ones with theirs. */
function summaryOf(a: GroupAlert, rec: AlertRecord | undefined, now: Date): AlertSummary {
  const base: AlertSummary = rec ? alertSummary(rec, now) : { alert_ref: a.alert_ref, fingerprint: a.fingerprint, status: a.status, labels: {}, annotations: {}, starts_at: a.starts_at };
  const { ends_at: _end, ...rest } = base;
  return { ...rest, status: a.status, starts_at: a.starts_at, ...(a.status === "resolved" && a.ends_at ? { ends_at: a.ends_at } : {}) };
}
