/**
 * Alert groups for routes with `notify: alert_groups`, pure: Alertmanager's dispatcher
 * (dispatch/dispatch.go `aggrGroup`) and dedup stage (notify/notify.go `DedupStage.needsUpdate`)
 * as rules over a stored state. A group (route path + group_by label values) collects its alerts;
 * its first flush is `group_wait` after it began (at once for an alert that started longer ago
 * than that); after that the group is looked at on a `group_interval` grid, and a flush tells the
 * receiver only when the group changed since the last notification (an alert fires that was not
 * told firing, or an alert resolved), or `repeat_interval` after the last one while alerts still
 * fire. Resolved alerts are dropped at every flush (listed once, in the flush that tells them); a
 * group left with no alerts is deleted. Time comes in as `now`.
 */
import { createHash } from "node:crypto";
import type { GroupFlush } from "./types.js";

/** A group keeps at most this many alerts (its state is one KV value); later ones are counted, not kept. */
export const MAX_GROUP_ALERTS = 2_000;

export interface GroupTiming {
  group_wait_ms: number;
  group_interval_ms: number;
  repeat_interval_ms: number;
}

/** One alert of a group, as the group knows it. */
export interface GroupAlert {
  alert_ref: string;
  fingerprint: string;
  status: "firing" | "resolved";
  starts_at: string;
  /** When it resolved. */
  ends_at?: string;
  /** Orders observations of the alert (its occurrences, resolved after firing): an older one never overwrites a newer. */
  obs: number;
}

/** What a flush decided to tell: stored before it is enqueued, so a planner killed in between leaves it to the next sweep. */
export interface PendingFlush extends GroupFlush {
  alerts: GroupAlert[];
}

export interface GroupState {
  /** `grp-<hash of route path and group key>`: the KV key, and the first part of its notifications' keys. */
  id: string;
  group_key: string;
  route_path: string;
  receiver: string;
  group_labels: Record<string, string>;
  /** By fingerprint. */
  alerts: Record<string, GroupAlert>;
  created_at: string;
  /** The last flush (told or not): the grid group_interval counts from. */
  flushed_at?: string;
  /** The last notification: what repeat_interval counts from. */
  notified_at?: string;
  /** Fingerprints the last notification told firing, and resolved. */
  told_firing: string[];
  told_resolved: string[];
  /** Notifications made so far (the next flush that tells is seq + 1). */
  seq: number;
  next_flush_at: string;
  /** A flush decided and not yet confirmed on the outbox. */
  outbox?: PendingFlush;
  /** Firing alerts not kept past MAX_GROUP_ALERTS. */
  untracked?: number;
}

/** `grp-<24 hex>` of a route path and a group key: every planner names a group the same. */
export function groupId(routePath: string, groupKey: string): string {
  return `grp-${createHash("sha256").update(`${routePath}\n${groupKey}`).digest("hex").slice(0, 24)}`;
}

/** `<group id>.<flush seq>.<receiver>`: the notification key of one flush. */
export const groupNotificationKey = (id: string, seq: number, receiver: string): string => `${id}.${seq}.${receiver}`;

/** An observation's order: later occurrences after earlier ones, a resolve after the firing it ends. */
export const observationOf = (occurrences: number, resolved: boolean): number => occurrences * 2 + (resolved ? 1 : 0);

const iso = (ms: number) => new Date(ms).toISOString();
const ms = (t: string) => Date.parse(t);

export function newGroup(g: Pick<GroupState, "id" | "group_key" | "route_path" | "receiver" | "group_labels">, t: GroupTiming, now: Date): GroupState {
  return { ...g, alerts: {}, created_at: now.toISOString(), told_firing: [], told_resolved: [], seq: 0, next_flush_at: iso(now.getTime() + t.group_wait_ms) };
}

/** The next grid point after a change at `now`: group_wait's rule before the first flush, else the group_interval grid. */
function flushAfterChange(g: GroupState, t: GroupTiming, now: Date, startsAt?: string): string {
  const current = ms(g.next_flush_at);
  if (!g.flushed_at) {
    // Alertmanager's insert: an alert that began more than group_wait ago is flushed at once.
    const early = startsAt !== undefined && ms(startsAt) + t.group_wait_ms <= now.getTime();
    return early ? iso(Math.min(current, now.getTime())) : g.next_flush_at;
  }
  const from = ms(g.flushed_at);
  const ticks = Math.max(1, Math.ceil((now.getTime() - from) / t.group_interval_ms));
  return iso(Math.min(current, from + ticks * t.group_interval_ms));
}

/** The group with `a` firing; undefined when that changes nothing (or an older observation). */
export function withFiring(g: GroupState, a: Omit<GroupAlert, "status" | "ends_at">, t: GroupTiming, now: Date): GroupState | undefined {
  const held = g.alerts[a.fingerprint];
  if (held && held.obs >= a.obs) return undefined;
  if (held && held.status === "firing") return { ...g, alerts: { ...g.alerts, [a.fingerprint]: { ...held, obs: a.obs, alert_ref: a.alert_ref } } };
  if (!held && Object.keys(g.alerts).length >= MAX_GROUP_ALERTS) return { ...g, untracked: (g.untracked ?? 0) + 1 };
  const alert: GroupAlert = { alert_ref: a.alert_ref, fingerprint: a.fingerprint, status: "firing", starts_at: a.starts_at, obs: a.obs };
  return { ...g, alerts: { ...g.alerts, [a.fingerprint]: alert }, next_flush_at: flushAfterChange(g, t, now, a.starts_at) };
}

/** The group with its alert `fingerprint` resolved at `endsAt`; undefined when it does not hold it firing (or an older observation). */
export function withResolved(g: GroupState, fingerprint: string, endsAt: string, obs: number, t: GroupTiming, now: Date): GroupState | undefined {
  const held = g.alerts[fingerprint];
  if (!held || held.obs >= obs || held.status === "resolved") return undefined;
  const alert: GroupAlert = { ...held, status: "resolved", ends_at: endsAt, obs };
  return { ...g, alerts: { ...g.alerts, [fingerprint]: alert }, next_flush_at: flushAfterChange(g, t, now) };
}

export const isDue = (g: GroupState, now: Date): boolean => ms(g.next_flush_at) <= now.getTime();

const NONE: ReadonlySet<string> = new Set();
/** The firing alerts, but for those `muted` names (fingerprints a silence, a window or an inhibition holds back now). */
export const firingOf = (g: GroupState, muted = NONE): GroupAlert[] => Object.values(g.alerts).filter((a) => a.status === "firing" && !muted.has(a.fingerprint));
const resolvedOf = (g: GroupState) => Object.values(g.alerts).filter((a) => a.status === "resolved");

/** Whether the group has anything the receiver was not told (Alertmanager's needsUpdate without the repeat). */
export function changedSinceTold(g: GroupState, muted = NONE): boolean {
  const firing = firingOf(g, muted).map((a) => a.fingerprint);
  const told = new Set(g.told_firing);
  if (g.notified_at === undefined) return firing.length > 0;
  if (!firing.every((f) => told.has(f))) return true;
  if (firing.length === 0) return g.told_firing.length > 0;
  const toldResolved = new Set(g.told_resolved);
  return resolvedOf(g).some((a) => !toldResolved.has(a.fingerprint));
}

/**
 * Alertmanager's `needsUpdate`: changed, or firing and repeat_interval passed since the last
 * notification; its mute stage first: `muted` alerts are left out, and with nothing left to tell
 * nothing is sent.
 */
export function needsNotification(g: GroupState, t: GroupTiming, now: Date, muted = NONE): boolean {
  const firing = firingOf(g, muted);
  if (!firing.length && !resolvedOf(g).length) return false;
  if (changedSinceTold(g, muted)) return true;
  return g.notified_at !== undefined && firing.length > 0 && ms(g.notified_at) + t.repeat_interval_ms <= now.getTime();
}

export type FlushOutcome =
  /** The state after the flush (with `outbox` set when it tells the receiver). */
  | { kind: "update"; state: GroupState; flush?: PendingFlush }
  /** Nothing left in the group (every alert resolved and dropped): delete it. */
  | { kind: "delete" };

/**
 * One flush of a due group at `now`: whether it tells the receiver (never while `quiet`: a muted
 * route or a receiver that is off), the resolved alerts dropped, and when to look again. `muted`
 * firing alerts (silenced, inhibited or in a maintenance window since they were accepted) are not
 * told and stay in the group: once nothing holds them back they are told again on their schedule.
 */
export function flushGroup(g: GroupState, t: GroupTiming, now: Date, quiet = false, muted = NONE): FlushOutcome {
  const send = !quiet && needsNotification(g, t, now, muted);
  const firing = firingOf(g, muted);
  const resolved = resolvedOf(g);
  let state: GroupState = { ...g, flushed_at: now.toISOString() };
  let flush: PendingFlush | undefined;
  if (send) {
    const seq = g.seq + 1;
    flush = {
      id: g.id, seq, at: now.toISOString(), status: firing.length ? "firing" : "resolved", firing: firing.length, resolved: resolved.length,
      alerts: [...firing, ...resolved],
    };
    state = { ...state, seq, notified_at: now.toISOString(), told_firing: firing.map((a) => a.fingerprint), told_resolved: resolved.map((a) => a.fingerprint), outbox: flush };
  }
  // Resolved alerts are dropped at every flush (Alertmanager's DeleteIfNotModified: this state is the one read).
  const stillFiring = firingOf(g);
  state = { ...state, alerts: Object.fromEntries(stillFiring.map((a) => [a.fingerprint, a])) };
  if (!stillFiring.length && !flush) return { kind: "delete" };
  state.next_flush_at = nextLook(state, t, now);
  return { kind: "update", state, ...(flush ? { flush } : {}) };
}

/** After a flush: the next grid point if something is still untold, else the one where repeat_interval is due. */
function nextLook(g: GroupState, t: GroupTiming, now: Date): string {
  const gi = t.group_interval_ms;
  if (changedSinceTold(g) || g.notified_at === undefined) return iso(now.getTime() + gi);
  if (!firingOf(g).length) return iso(now.getTime() + gi);
  const due = ms(g.notified_at) + t.repeat_interval_ms;
  return iso(now.getTime() + Math.max(1, Math.ceil((due - now.getTime()) / gi)) * gi);
}

/** The state once its pending flush is on the outbox; "delete" when the group has nothing left. */
export function afterEnqueued(g: GroupState, seq: number): GroupState | "delete" | undefined {
  if (!g.outbox || g.outbox.seq !== seq) return undefined;
  const { outbox: _sent, ...rest } = g;
  return Object.keys(rest.alerts).length ? rest : "delete";
}
