/**
 * The notification domain's shared shapes: an incident moment (what is notified), a notification
 * (one moment for one receiver on one route: the outbox item), a receiver integration (how it is
 * sent) and the outcome of one attempt. Pure types: every other notify module and the stores
 * implementing the sent-log port import these, never the reverse.
 */
import type { OpsEnv } from "../config/env.js";
import type { Severity } from "../subjects/index.js";

/** The incident moments a route is told about; `repeat` is a re-notification of an unacknowledged open incident. */
export const MOMENT_KINDS = ["opened", "escalated", "reopened", "acknowledged", "resolved", "repeat"] as const;
export type MomentKind = (typeof MOMENT_KINDS)[number];

export const INTEGRATIONS = ["webhook", "slack", "pagerduty", "email", "msteams"] as const;
export type IntegrationKind = (typeof INTEGRATIONS)[number];

/** The incident as a notification shows it (read from the store when the moment is planned). */
export interface IncidentSnapshot {
  id: string;
  service: string;
  env: OpsEnv;
  severity: Severity;
  title: string;
  /** open | mitigating | closed */
  status: string;
  started_at: string;
  /** When opsbus opened it (absent on notifications planned before the field existed). */
  created_at?: string;
  closed_at?: string;
  resolution?: string;
  acknowledged_at?: string;
  acknowledged_by?: string;
  alert_count: number;
  reopened_count: number;
  /** The incident's labels as strings (kind, source, the opening alert's labels, …). */
  labels: Record<string, string>;
}

/** An alert of the incident, as receivers list it (Alertmanager webhook `alerts[]`). */
export interface AlertSummary {
  alert_ref: string;
  fingerprint: string;
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  /** Absent while firing without an end. */
  ends_at?: string;
  generator_url?: string;
}

/** One incident moment, as the planner derives it from an `incident.*` event (or the repeat sweep). */
export interface IncidentMoment {
  kind: MomentKind;
  incident_id: string;
  /**
   * Stable per moment: `opened`, `escalated-P0`, `reopened-<h>`, `acknowledged-<h>`,
   * `resolved-<h>`, `repeat-<n>` (h: a short hash of the event's Nats-Msg-Id). KV-key safe.
   */
  moment_id: string;
  /** When the moment happened (the event's time). */
  at: string;
  /** Who caused it, when known (an agent id, `auto-resolve`, …). */
  by?: string;
  /** Severity change of an `escalated` moment. */
  from_severity?: Severity;
  to_severity?: Severity;
  /** The OPS_EVENTS stream sequence of the event (0 for repeats): orders moments of one incident. */
  seq: number;
}

/** The route a notification went out on, as receivers show it. */
export interface RouteRef {
  /** Position in the tree, e.g. `0.2` (root = ``): part of the group key. */
  path: string;
  /** Alertmanager-style group key: `{}/{<route matchers>}:{<group_by label values>}`. */
  group_key: string;
  group_labels: Record<string, string>;
}

/** What every outbox item has, whatever it tells. */
interface NotificationBase {
  /**
   * The idempotency key (Nats-Msg-Id, sent-log key, receiver dedupe key):
   * `<incident_id>.<moment_id>.<receiver>`, or `<group id>.<flush seq>.<receiver>` for an alert group.
   */
  key: string;
  receiver: string;
  integration: IntegrationKind;
  alerts: AlertSummary[];
  /** Alerts left out of `alerts` (receivers' max_alerts). */
  truncated_alerts: number;
  route: RouteRef;
  /** When it was planned. */
  created_at: string;
  /** The route's group_interval: two notifications of one incident (or group) to this receiver are at least this far apart. */
  group_interval_ms: number;
  /** The console's or gateway's base URL, for `externalURL` and links. */
  external_url: string;
  /** Set on an operator's replay (`notification_tool.retry`): the outbox message id is `<key>:replay-<n>`, so it is not deduped. */
  replay?: number;
  /**
   * The sent-log revision of the pending record its planner wrote for it (absent when the record
   * was there before, as on a replay): a notifier claims at that revision without reading first.
   */
  log_revision?: number;
}

/** One incident moment for one receiver on one route (a route with `notify: incidents`). */
export interface IncidentNotification extends NotificationBase {
  moment: IncidentMoment;
  incident: IncidentSnapshot;
  /** Not sent before this time (the route's group_wait, for an `opened` moment). */
  not_before?: string;
  /** A signed, expiring, single-use link that acknowledges the incident (absent when links are off). */
  ack_url?: string;
  group?: undefined;
}

/** One flush of an alert group, as a route with `notify: alert_groups` is told (Alertmanager's notification). */
export interface GroupFlush {
  /** `grp-<hash of the group key>`: KV-key safe, the first part of its notifications' keys. */
  id: string;
  /** The flush's number in its group (1, 2, …): the second part of the key. */
  seq: number;
  /** `firing` while any of its alerts fires, else `resolved` (Alertmanager's `status`). */
  status: "firing" | "resolved";
  /** When the flush was decided. */
  at: string;
  firing: number;
  resolved: number;
}

/** An alert group's notification: about alerts, no incident. */
export interface GroupNotification extends NotificationBase {
  group: GroupFlush;
  moment?: undefined;
  incident?: undefined;
  not_before?: undefined;
  ack_url?: undefined;
}

/** The outbox item. Narrow with `n.group`: an alert group's flush, else an incident moment. */
export type Notification = IncidentNotification | GroupNotification;

/** The outcome of one send attempt, as an integration classifies it. */
export type SendResult =
  | { outcome: "delivered"; status?: number }
  /** 5xx, 429, a timeout or a connection error: try again (after `retry_after_ms` when the receiver said so). */
  | { outcome: "retry"; status?: number; error: string; retry_after_ms?: number }
  /** Any other 4xx, or a body the receiver can never take: never retried. */
  | { outcome: "failed"; status?: number; error: string };

/** A configured receiver integration, ready to send (its secrets resolved, never logged). */
export interface Integration {
  kind: IntegrationKind;
  /** One attempt. Never throws: every failure is a SendResult. Errors never contain secrets. */
  send(n: Notification, signal: AbortSignal): Promise<SendResult>;
  /** Releases pooled connections. */
  close?(): Promise<void>;
}

/** `skipped`: not sent because it no longer applies when its turn came (a repeat for an incident acknowledged or closed meanwhile). */
export const NOTIFICATION_STATUSES = ["pending", "delivered", "failed", "skipped"] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

export interface AttemptRecord {
  attempt: number;
  at: string;
  outcome: SendResult["outcome"];
  status?: number;
  error?: string;
  /** The process that sent it. */
  node_id: string;
  latency_ms: number;
}

/** What a sent-log record of an alert group's flush says about its group. */
export interface RecordGroup {
  /** `grp-<hash>` (GroupFlush.id). */
  id: string;
  /** Alertmanager's group key. */
  key: string;
  status: GroupFlush["status"];
}

/** The sent-log's record of one notification (one key). */
export interface NotificationRecord {
  key: string;
  /** The incident told about; absent on an alert group's notification (which has `group`). */
  incident_id?: string;
  group?: RecordGroup;
  receiver: string;
  integration: IntegrationKind;
  /** The incident moment, or `alert_group` for a group's flush. */
  moment: MomentKind | "alert_group";
  /** The moment's id; a group flush's sequence number. */
  moment_id: string;
  seq: number;
  /** When the moment happened (a group's flush was decided): the order a receiver is told in. */
  moment_at: string;
  status: NotificationStatus;
  attempts: AttemptRecord[];
  created_at: string;
  updated_at: string;
  delivered_at?: string;
  failed_at?: string;
  /** Why it failed for good, or was skipped. */
  error?: string;
  /** While a notifier sends it: who, and until when the claim holds (a notifier killed mid-send leaves it to expire). */
  sending_by?: string;
  sending_until?: string;
  /** Set by `notification_tool.retry`: the agent that asked for a replay. */
  retried_by?: string;
}
