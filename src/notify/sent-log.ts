/**
 * The sent-log port: one record per notification key, what every notifier checks before sending
 * and writes after. Writes are compare-and-set on the record's revision, so of two notifiers holding
 * the same notification (a redelivery after a kill, a duplicate outbox message after the dedupe
 * window) only one claims it; the other waits for the outcome. The rules of a claim are here, pure.
 */
import type { GroupNotification, IncidentNotification, Notification, NotificationRecord, NotificationStatus } from "./types.js";

export interface StoredNotification {
  record: NotificationRecord;
  revision: number;
}

/** The stored revision was not the one the write expected (0: the key already exists). */
export class SentLogConflict extends Error {
  override name = "SentLogConflict";
  constructor(readonly key: string) {
    super(`notification ${key} changed meanwhile`);
  }
}

export interface SentLogQuery {
  incident_id?: string;
  /** One alert group's notifications (its `grp-…` id). */
  group_id?: string;
  /** Only incident moments, or only alert groups' flushes. */
  kind?: "incident" | "alert_group";
  receiver?: string;
  status?: NotificationStatus;
  /** Records updated at or after this time (default: the last 24 hours when no incident is given). */
  since?: string;
  limit: number;
}

export interface SentLog {
  readonly backendName: string;
  get(key: string): Promise<StoredNotification | null>;
  /** Writes if the stored revision is `expectRevision` (0: only if new); the new revision, or `SentLogConflict`. */
  put(record: NotificationRecord, expectRevision: number): Promise<number>;
  /** Every record of one incident (all receivers), oldest moment first. */
  ofIncident(incidentId: string): Promise<NotificationRecord[]>;
  /** Every record of one alert group (all receivers, all flushes), oldest flush first. */
  ofGroup(groupId: string): Promise<NotificationRecord[]>;
  /** Newest update first. */
  list(q: SentLogQuery): Promise<NotificationRecord[]>;
  close(): Promise<void>;
}

/** The record a planner writes when it enqueues a notification. */
export function pendingRecord(n: Notification, now: Date): NotificationRecord {
  if (n.group) {
    return {
      key: n.key,
      group: { id: n.group.id, key: n.route.group_key, status: n.group.status },
      receiver: n.receiver,
      integration: n.integration,
      moment: "alert_group",
      moment_id: String(n.group.seq),
      seq: n.group.seq,
      moment_at: n.group.at,
      status: "pending",
      attempts: [],
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
    };
  }
  return {
    key: n.key,
    incident_id: n.moment.incident_id,
    receiver: n.receiver,
    integration: n.integration,
    moment: n.moment.kind,
    moment_id: n.moment.moment_id,
    seq: n.moment.seq,
    moment_at: n.moment.at,
    status: "pending",
    attempts: [],
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
  };
}

/**
 * The record the planner wrote for `n`, as it wrote it, when the outbox message says which
 * revision that was: a claim at that revision is the sent-log check (it fails when anything was
 * written since: a claim, an outcome, a replay), without a read first.
 */
export function plannedRecord(n: Notification): StoredNotification | undefined {
  if (n.log_revision === undefined || n.replay !== undefined) return undefined;
  return { record: pendingRecord(n, new Date(n.created_at)), revision: n.log_revision };
}

export const isSettled = (r: NotificationRecord): boolean => r.status !== "pending";

/** Another notifier holds it: its claim has not run out. */
export function claimedByOther(r: NotificationRecord, nodeId: string, now: Date): boolean {
  return r.sending_by !== undefined && r.sending_by !== nodeId && r.sending_until !== undefined && Date.parse(r.sending_until) > now.getTime();
}

/**
 * How long into an incident's life a later moment waits for its `opened` to be planned at all: the
 * `opened` event may be held by a planner that was killed (it comes back after the planner
 * consumer's ack_wait), while another planner already took the `resolved`.
 */
export const OPENED_GRACE_MS = 60_000;

/**
 * Why this notification must wait for an earlier one of the same incident and receiver: moments
 * reach a receiver in the order they happened (an `acknowledged` never before its `opened`), and
 * `group_interval` apart. Returns the wait in ms, or 0 to send now.
 */
export function waitForEarlier(n: IncidentNotification, siblings: readonly NotificationRecord[], now: Date): number {
  let wait = 0;
  const openedAt = Date.parse(n.incident.created_at ?? n.incident.started_at);
  const openedPlanned = siblings.some((r) => r.receiver === n.receiver && r.moment === "opened");
  if (n.moment.kind !== "opened" && !openedPlanned && now.getTime() - openedAt < OPENED_GRACE_MS) wait = 1_000;
  for (const r of siblings) {
    if (r.key === n.key || r.receiver !== n.receiver) continue;
    if (!happenedBefore(r, n)) continue;
    if (r.status === "pending" && n.moment.kind !== "opened") wait = Math.max(wait, 1_000);
    if (r.status === "delivered" && r.delivered_at && n.group_interval_ms > 0) {
      wait = Math.max(wait, Date.parse(r.delivered_at) + n.group_interval_ms - now.getTime());
    }
  }
  return Math.max(0, wait);
}

/** Moments of one incident in the order they happened: by time, then by the event's stream sequence. */
function happenedBefore(r: NotificationRecord, n: IncidentNotification): boolean {
  const a = Date.parse(r.moment_at);
  const b = Date.parse(n.moment.at);
  if (a !== b) return a < b;
  return r.seq !== n.moment.seq ? r.seq < n.moment.seq : r.moment_id < n.moment.moment_id;
}

/**
 * An alert group's flushes reach a receiver in order: this one waits while an earlier flush of its
 * group to the same receiver is still pending (its flush already kept group_interval). Ms, or 0.
 */
export function waitForEarlierFlush(n: GroupNotification, siblings: readonly NotificationRecord[]): number {
  const earlierPending = siblings.some((r) => r.key !== n.key && r.receiver === n.receiver && r.status === "pending" && r.seq < n.group.seq);
  return earlierPending ? 1_000 : 0;
}
