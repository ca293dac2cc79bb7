/**
 * The planner's rule, pure: an incident moment and the routes its labels match → the notifications
 * to enqueue, one per matched receiver, and why any matched receiver is left out (muted, off, or
 * an acknowledged incident's repeat). Routes come resolved (receiver, group, timings, mute state)
 * from the routing tree; receivers from config/receivers.yml.
 */
import { incidentLabels } from "./labels.js";
import { notificationKey } from "./moments.js";
import { groupOf, matchRoutes, routeMuted, type RouteTree } from "./routes.js";
import type { AlertSummary, IncidentMoment, IncidentSnapshot, IntegrationKind, Notification, RouteRef } from "./types.js";

/** A route the incident's labels matched, as the planner needs it. */
export interface PlannedRoute {
  receiver: string;
  ref: RouteRef;
  group_wait_ms: number;
  group_interval_ms: number;
  repeat_interval_ms: number;
  /** The time interval that mutes this route now (a mute interval, or outside every active one). */
  muted_by?: string;
}

export type ReceiverState = { kind: IntegrationKind; max_alerts: number } | { off: string };

export interface PlanInput {
  moment: IncidentMoment;
  incident: IncidentSnapshot;
  alerts: readonly AlertSummary[];
  routes: readonly PlannedRoute[];
  receiver(name: string): ReceiverState | undefined;
  now: Date;
  external_url: string;
  /** A signed ack link for this notification, when links are on and the moment asks for action. */
  ackUrl?(incidentId: string, key: string): string | undefined;
}

export interface Skipped {
  receiver: string;
  reason: string;
}

/** Moments that ask someone to act carry an ack link. */
const ASKS_FOR_ACK = new Set(["opened", "escalated", "reopened", "repeat"]);

export function planNotifications(p: PlanInput): { notifications: Notification[]; skipped: Skipped[] } {
  const notifications: Notification[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  for (const route of p.routes) {
    // `continue` can reach one receiver twice: it is told once per moment.
    if (seen.has(route.receiver)) continue;
    seen.add(route.receiver);
    const state = p.receiver(route.receiver);
    if (!state) {
      skipped.push({ receiver: route.receiver, reason: "no such receiver in config/receivers.yml" });
      continue;
    }
    if ("off" in state) {
      skipped.push({ receiver: route.receiver, reason: `receiver is off: ${state.off}` });
      continue;
    }
    if (route.muted_by) {
      skipped.push({ receiver: route.receiver, reason: `muted by time interval ${route.muted_by}` });
      continue;
    }
    if (p.moment.kind === "repeat" && (p.incident.acknowledged_at || p.incident.status === "closed")) {
      skipped.push({ receiver: route.receiver, reason: "incident acknowledged or closed" });
      continue;
    }
    const key = notificationKey(p.moment, route.receiver);
    const shown = state.max_alerts > 0 ? p.alerts.slice(0, state.max_alerts) : [...p.alerts];
    const ackUrl = ASKS_FOR_ACK.has(p.moment.kind) && p.incident.status !== "closed" ? p.ackUrl?.(p.incident.id, key) : undefined;
    const notBefore = p.moment.kind === "opened" && route.group_wait_ms > 0 ? new Date(Date.parse(p.moment.at) + route.group_wait_ms).toISOString() : undefined;
    notifications.push({
      key,
      receiver: route.receiver,
      integration: state.kind,
      moment: p.moment,
      incident: p.incident,
      alerts: shown,
      truncated_alerts: p.alerts.length - shown.length,
      route: route.ref,
      created_at: p.now.toISOString(),
      group_interval_ms: route.group_interval_ms,
      external_url: p.external_url,
      ...(notBefore ? { not_before: notBefore } : {}),
      ...(ackUrl ? { ack_url: ackUrl } : {}),
    });
  }
  return { notifications, skipped };
}

/**
 * The repeat a route owes an open, unacknowledged incident: `repeat_interval` after the last moment
 * this receiver was told about, numbered from that moment, so every sweeper names the same one.
 * Undefined when none is due.
 */
export function repeatDue(lastToldAt: string, lastMomentId: string, repeatIntervalMs: number, now: Date): { moment_id: string } | undefined {
  if (repeatIntervalMs <= 0) return undefined;
  const n = Math.floor((now.getTime() - Date.parse(lastToldAt)) / repeatIntervalMs);
  if (n < 1) return undefined;
  const base = lastMomentId.replace(/^repeat-/, "").replace(/-\d+$/, "").replace(/[^A-Za-z0-9]/g, "").slice(0, 16);
  return { moment_id: `repeat-${base}-${n}` };
}

/**
 * The routes an incident's labels match in `tree` now, as the planner needs them. A route with
 * `notify: alert_groups` is told about alerts, not incidents: an incident landing on one is not
 * notified by it (a `continue: true` on it lets the incident go on to its later siblings).
 */
export function plannedRoutes(tree: RouteTree, incident: IncidentSnapshot, now: Date): PlannedRoute[] {
  const labels = incidentLabels(incident);
  return matchRoutes(tree, labels).filter((r) => r.notify === "incidents").map((r) => {
    const mute = routeMuted(r, tree.intervals, now);
    return {
      receiver: r.receiver,
      ref: groupOf(r, labels),
      group_wait_ms: r.group_wait_ms,
      group_interval_ms: r.group_interval_ms,
      repeat_interval_ms: r.repeat_interval_ms,
      ...(mute.muted ? { muted_by: mute.by } : {}),
    };
  });
}
