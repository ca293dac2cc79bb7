/**
 * `notification_tool`: what was sent to whom for which incident moment or alert group flush, and
 * replaying an incident's that failed (a group's next flush tells its receiver anyway). Records
 * come from the sent-log; a record names receivers, never their URLs or keys.
 */
import { z } from "zod";
import { invalid, notFound } from "../errors.js";
import type { SentLog } from "../notify/sent-log.js";
import { NOTIFICATION_STATUSES, type NotificationRecord } from "../notify/types.js";
import { action, type ToolDef } from "./types.js";

export const NOTIFICATION_TOOL_BOUNDS = { defaultListLimit: 100, maxListLimit: 1_000 } as const;

export interface NotificationToolDeps {
  sentLog: SentLog;
  /** Sets a failed notification pending again and enqueues it anew; what was enqueued. */
  replay(record: NotificationRecord, by: string): Promise<{ key: string; enqueued: boolean }>;
}

/** A part of a notification key: an incident id, a group id, a moment. */
const KEY_PART = "[A-Za-z0-9_=-]+";

const Key = z
  .string()
  .max(300)
  .regex(new RegExp(`^${KEY_PART}\\.${KEY_PART}\\.[A-Za-z0-9_-]+$`), "a notification key: <incident_id>.<moment>.<receiver> or <group id>.<flush>.<receiver>")
  .describe("the notification's key, <incident_id>.<moment>.<receiver> (or <group id>.<flush>.<receiver> for an alert group), as list answers it");

const ListParams = z.strictObject({
  // An id a key can hold, and so a valid index key of the sent-log (NATS KV refuses others).
  incident_id: z.string().max(64).regex(new RegExp(`^${KEY_PART}$`), "an incident id").optional().describe("only this incident's notifications (all times)"),
  group_id: z.string().max(64).regex(new RegExp(`^${KEY_PART}$`), "an alert group id (grp-…)").optional().describe("only this alert group's notifications (grp-…, all times)"),
  kind: z.enum(["incident", "alert_group"]).optional().describe("only incident moments, or only alert groups' flushes (routes with notify: alert_groups)"),
  receiver: z.string().max(64).optional().describe("only this receiver's"),
  status: z.enum(NOTIFICATION_STATUSES).optional().describe("pending, delivered, failed or skipped"),
  since: z.iso.datetime({ offset: true }).optional().describe("updated at or after this time; default the last 24 hours (unless incident_id is given)"),
  limit: z.number().int().min(1).max(NOTIFICATION_TOOL_BOUNDS.maxListLimit).default(NOTIFICATION_TOOL_BOUNDS.defaultListLimit).describe("at most this many, newest first"),
});

/** What a caller sees of a record: everything but the claim bookkeeping. */
function shown(r: NotificationRecord) {
  const { sending_by: _by, sending_until: _until, ...rest } = r;
  return rest;
}

export function createNotificationTool(d: NotificationToolDeps): ToolDef {
  return {
    name: "notification_tool",
    description: "Notifications sent for incident moments (opened, escalated, reopened, acknowledged, resolved, repeat) and alert groups' flushes: each receiver's attempts and outcome, and replaying a failed incident notification.",
    actions: {
      list: action({
        entitlement: "tools.notifications.read",
        description: "Notifications, newest update first: by incident, receiver, status or time.",
        params: ListParams,
        async handler(p) {
          const records = await d.sentLog.list({
            limit: p.limit,
            ...(p.incident_id !== undefined ? { incident_id: p.incident_id } : {}),
            ...(p.group_id !== undefined ? { group_id: p.group_id } : {}),
            ...(p.kind !== undefined ? { kind: p.kind } : {}),
            ...(p.receiver !== undefined ? { receiver: p.receiver } : {}),
            ...(p.status !== undefined ? { status: p.status } : {}),
            ...(p.since !== undefined ? { since: new Date(p.since).toISOString() } : {}),
          });
          return { count: records.length, notifications: records.map(shown) };
        },
      }),
      get: action({
        entitlement: "tools.notifications.read",
        description: "One notification by key, with every attempt (time, node, status, error, latency).",
        params: z.strictObject({ key: Key }),
        async handler(p) {
          const held = await d.sentLog.get(p.key);
          if (!held) throw notFound(`notification ${p.key} not found`, { key: p.key });
          return { notification: shown(held.record) };
        },
      }),
      retry: action({
        entitlement: "tools.notifications.write",
        description: "Send a failed (or skipped) notification again: it goes back to pending and to the outbox; its earlier attempts stay on record.",
        params: z.strictObject({ key: Key }),
        async handler(p, { caller }) {
          const held = await d.sentLog.get(p.key);
          if (!held) throw notFound(`notification ${p.key} not found`, { key: p.key });
          if (held.record.group) throw invalid(`notification ${p.key} is an alert group's flush: it is not replayed; the group's next flush tells the receiver where it stands`, { key: p.key });
          if (held.record.status === "pending" || held.record.status === "delivered") {
            throw invalid(`notification ${p.key} is ${held.record.status}: only a failed or skipped one can be retried`, { key: p.key, status: held.record.status });
          }
          return await d.replay(held.record, caller.agent_id);
        },
      }),
    },
  };
}
