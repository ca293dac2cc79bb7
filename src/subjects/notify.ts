import { z } from "zod";
import type { Naming } from "./prefix.js";

/**
 * The notification outbox: one message per notification (an incident moment for one receiver on
 * one route) on a work-queue stream, published with Nats-Msg-Id = the notification's idempotency
 * key, so planners racing each other (or one replaying an event) enqueue it once. The full shape is
 * src/notify/types.ts `Notification`; this checks what the notifier needs before it reads the rest.
 */
const ItemBase = {
  key: z.string().regex(/^[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_-]+$/, "key must be <incident>.<moment>.<receiver> or <group>.<flush>.<receiver>"),
  receiver: z.string().min(1),
  integration: z.string().min(1),
  alerts: z.array(z.unknown()),
  created_at: z.string(),
};
/** An incident moment's notification, or an alert group's flush (`group`, no incident). */
export const NotifyItem = z.union([
  z.looseObject({
    ...ItemBase,
    moment: z.looseObject({ kind: z.string(), incident_id: z.string(), moment_id: z.string(), at: z.string(), seq: z.number() }),
    incident: z.looseObject({ id: z.string() }),
  }),
  z.looseObject({
    ...ItemBase,
    group: z.looseObject({ id: z.string(), seq: z.number().int().min(1), status: z.enum(["firing", "resolved"]), at: z.string() }),
    route: z.looseObject({ group_key: z.string(), group_labels: z.record(z.string(), z.string()) }),
  }),
]);
export type NotifyItem = z.infer<typeof NotifyItem>;

export function notifySubjects(n: Naming) {
  return {
    stream: `${n.streamPrefix}_NOTIFY`,
    wildcard: `${n.prefix}.notify.>`,
    /** `ops.notify.<receiver>` */
    of: (receiver: string) => `${n.prefix}.notify.${receiver}`,
    /** The notifier role's shared consumer on the outbox. */
    consumer: "notifier",
    /** The planner's consumer on OPS_EVENTS: incident moments in, notifications out. */
    plannerConsumer: "notify-planner",
    /** What the planner reads: every incident event. */
    plannerFilter: `${n.prefix}.events.incident.>`,
    /** The sent-log: one KV entry per notification key. */
    sentLogBucket: `${n.streamPrefix}_NOTIFY_LOG`,
    /** The alert-group planner's consumer on OPS_EVENTS: alerts in, group state updated (routes with `notify: alert_groups`). */
    groupsConsumer: "notify-groups",
    /** What it reads: every alert event (it acts on alert.accepted and alert.resolved). */
    groupsFilter: `${n.prefix}.events.alert.>`,
    /** Alert groups' state: one KV entry per group (`grp-<hash of its group key>`), written compare-and-set. */
    groupsBucket: `${n.streamPrefix}_NOTIFY_GROUPS`,
  };
}
