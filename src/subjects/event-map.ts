/**
 * Every event opsbus publishes on `ops.events.<domain>.<type>`, with the zod schema of its `data`.
 * `EventPublisher.publish` accepts only these types with their payloads, so an unknown event or a
 * wrong payload is a type error; subscribers parse `data` with the same schema (`parseEventData`).
 * A schema is a plain object (extra keys are a type error at the publisher) where every publisher
 * sends one shape, and loose (extra keys kept) where several publishers add their own fields.
 */
import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import { SEVERITIES } from "./alerts.js";
import type { JobStatus } from "./jobs.js";

const Severity = z.enum(SEVERITIES);
const Env = z.enum(OPS_ENVS);

/** `alert.accepted`: a new alert was stored and queued as work. */
export const AlertAcceptedData = z.object({
  alert_ref: z.string(),
  fingerprint: z.string(),
  service: z.string(),
  kind: z.string(),
  severity: Severity,
  env: Env,
  title: z.string(),
  source: z.string(),
});

/** `alert.deduped`: one per ingest batch, for every alert that absorbed duplicates in it. */
export const AlertDedupedData = z.object({
  /** Duplicates absorbed in this batch, over all alerts. */
  count: z.number(),
  alerts: z.array(z.object({ alert_ref: z.string(), fingerprint: z.string(), service: z.string(), count: z.number(), occurrences: z.number() })),
});
export type AlertDedupedData = z.infer<typeof AlertDedupedData>;

/** `alert.rejected`: what was received and why it was refused, kept for inspection. */
export const AlertRejectedData = z.object({
  subject: z.string(),
  stream_seq: z.number().optional(),
  reasons: z.array(z.string()),
  /** The raw payload: UTF-8 text when it decodes, base64 otherwise. */
  raw: z.string(),
  raw_encoding: z.enum(["utf8", "base64"]),
  raw_bytes: z.number(),
});
export type AlertRejectedData = z.infer<typeof AlertRejectedData>;

/**
 * `alert.resolved`: an alert stopped firing: its `ends_at` passed (the sweep), a resolve arrived
 * (`status: "resolved"`), or `alert_ingest_tool.resolve`. `known: false`: a resolve for a
 * fingerprint no stored alert holds (recorded, changes nothing).
 */
export const AlertResolvedData = z.object({
  alert_ref: z.string().optional(),
  fingerprint: z.string(),
  service: z.string(),
  resolved_at: z.string(),
  reason: z.enum(["ends_at", "resolve", "tool"]),
  known: z.boolean(),
});
export type AlertResolvedData = z.infer<typeof AlertResolvedData>;

/**
 * `alert.suppressed`: a new firing was stored but held back (no work, no incident, no page) by
 * silences (ids), inhibiting alerts (fingerprints) or maintenance windows (names). When nothing
 * holds it any more it is released: `alert.accepted` follows, as if it had just arrived.
 */
export const AlertSuppressedData = z.object({
  alert_ref: z.string(),
  fingerprint: z.string(),
  service: z.string(),
  silenced_by: z.array(z.string()),
  inhibited_by: z.array(z.string()),
  muted_by: z.array(z.string()),
});
export type AlertSuppressedData = z.infer<typeof AlertSuppressedData>;

/** `alert.acked`: the claimer settled the alert. */
export const AlertAckedData = z.object({ alert_ref: z.string(), owner: z.string().optional(), note: z.string().optional() });

/** `alert.failed`: a delivery failed and the alert will be redelivered at `retry_at`. */
export const AlertFailedData = z.object({ alert_ref: z.string(), attempts: z.number(), error: z.string(), retry_at: z.string().nullish() });

/** `alert.dead`: failed for good (the caller's last failure, or `max_deliver` exhausted). */
export const AlertDeadData = z.object({ alert_ref: z.string(), attempts: z.number(), last_error: z.string().nullish() });

/**
 * What incident events may carry beside the id: the bridge sends the alert that touched the
 * incident (`alert_ref`, `signature`, `action`, `event_id`, `triage_run_id`), `oncall_tool` the
 * incident's summary with `by`, a status change `from`/`resolution`, a timeline entry `event_type`.
 */
const incidentFields = {
  incident_id: z.string(),
  service: z.string().optional(),
  env: Env.optional(),
  severity: Severity.optional(),
  status: z.string().optional(),
  title: z.string().optional(),
  alert_ref: z.string().optional(),
  signature: z.string().optional(),
  action: z.string().optional(),
  event_id: z.string().optional(),
  triage_run_id: z.string().optional(),
  event_type: z.string().optional(),
  artifact: z.string().optional(),
  from: z.string().optional(),
  resolution: z.string().optional(),
  by: z.string().optional(),
};

/**
 * `incident.created`: what a subscriber needs to route or page on without a second lookup —
 * service, env, severity (as opened, after the cap) and title — beside the ids. Published by the
 * bridge (with the alert that opened it) and by `oncall_tool.incident_create`.
 */
export const IncidentCreatedData = z.looseObject({
  ...incidentFields,
  service: z.string(),
  env: Env,
  severity: Severity,
  title: z.string(),
  started_at: z.string().optional(),
  /** The incident this one replaced in its signature's open slot. */
  superseded: z.string().optional(),
});
export type IncidentCreatedData = z.infer<typeof IncidentCreatedData>;

/**
 * `incident.updated` / `incident.reopened` / `incident.closed`: the incident and what changed it;
 * `incident.resolved`: closed by the auto-resolve sweep (all its alerts resolved for the quiet period).
 */
export const IncidentChangeData = z.looseObject(incidentFields);

/**
 * `incident.acknowledged` / `incident.unacknowledged`: someone is on the incident (no more
 * re-notifications), or no longer. Published by `oncall_tool.incident_ack` / `incident_unack`,
 * which the PagerDuty intake's acknowledge and the ack links call, keyed `ack:<id>@<acknowledged_at>`
 * (`unack:<id>@<unacknowledged_at>`). For an unacknowledge, `acknowledged_at` is the ack it cleared.
 */
export const IncidentAckData = z.object({
  incident_id: z.string(),
  service: z.string(),
  env: Env,
  severity: Severity,
  title: z.string(),
  status: z.string(),
  by: z.string(),
  acknowledged_at: z.string(),
  unacknowledged_at: z.string().optional(),
  note: z.string().optional(),
});
export type IncidentAckData = z.infer<typeof IncidentAckData>;

/** `incident.escalated`: severity raised by the escalation policy. */
export const IncidentEscalatedData = z.object({ incident_id: z.string(), from: Severity, to: Severity, reason: z.string() });

/** `triage.completed` / `postmortem.drafted`: a graph run wrote its artifacts. */
export const GraphDoneData = z.object({ run_id: z.string(), incident_id: z.string(), graph: z.string(), artifacts: z.array(z.string()) });

/** `graph.failed`: a graph run failed for good. */
export const GraphFailedData = z.object({ run_id: z.string(), incident_id: z.string(), graph: z.string(), error: z.string() });

/** `backlog.generated`: `auto_generate_weekly`'s summary (without the items). */
export const BacklogGeneratedData = z.object({
  week: z.string(),
  env: Env,
  digest_file: z.string(),
  dry_run: z.boolean(),
  services_considered: z.number(),
  created: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  over_cap: z.number(),
  max_items_per_run: z.number(),
  by: z.string(),
});

/** `backlog.created` / `backlog.updated`: the item, and what changed (an upsert, a status move, a comment). */
export const BacklogItemData = z.looseObject({
  id: z.string(),
  by: z.string(),
  dedupe_key: z.string().optional(),
  action: z.string().optional(),
  changed: z.array(z.string()).optional(),
  priority: z.string().optional(),
  owner: z.string().optional(),
  status: z.string().optional(),
  due_date: z.string().optional(),
  service: z.string().optional(),
  from: z.string().optional(),
  event_id: z.string().optional(),
  event_type: z.string().optional(),
});

/** `backlog.cleaned`: closed items older than the retention were removed. */
export const BacklogCleanedData = z.object({ deleted: z.number(), cutoff: z.string(), by: z.string() });

/** `job.<status>`: a run's latest transition; `status` is the one the event type names. */
const jobData = <S extends JobStatus>(status: S) =>
  z.object({
    run_id: z.string(),
    task_id: z.string(),
    trigger: z.enum(["schedule", "manual"]),
    slot: z.string(),
    status: z.literal(status),
    dry_run: z.boolean(),
    reason: z.string().optional(),
    error_code: z.string().optional(),
    duration_ms: z.number().optional(),
  });

/** `nodes.status`: one poll of every node of the nodes registry. */
export const NodesStatusData = z.object({
  nodes: z.array(
    z.object({
      key: z.string(),
      node_id: z.string(),
      label: z.string(),
      via: z.enum(["nats", "http"]),
      target: z.string(),
      online: z.boolean(),
      reason: z.string().optional(),
      latency_ms: z.number(),
      status: z
        .looseObject({
          heartbeat_age_s: z.number(),
          open_incidents: z.number().nullable(),
          alerts_loop_slo: z.object({ p95_ms: z.number().nullable(), samples: z.number(), failed_rate: z.number().nullable() }),
          version: z.string(),
          config_digest: z.string(),
          env: z.string().optional(),
        })
        .optional(),
    }),
  ),
  online: z.number(),
  offline: z.number(),
});

/**
 * `silence.created` / `silence.updated` / `silence.expired`: the silence as written and the caller
 * who wrote it (`by`). A post that could not update in place creates a new silence (`replaces`
 * the old id) and expires the old one (`replaced_by` the new id).
 */
export const SilenceData = z.object({
  silence_id: z.string(),
  matchers: z.array(z.object({ name: z.string(), value: z.string(), is_regex: z.boolean(), is_equal: z.boolean() })),
  starts_at: z.string(),
  ends_at: z.string(),
  created_by: z.string(),
  comment: z.string(),
  state: z.enum(["pending", "active", "expired"]),
  by: z.string(),
  replaces: z.string().optional(),
  replaced_by: z.string().optional(),
});
export type SilenceData = z.infer<typeof SilenceData>;

/**
 * `notification.sent` / `notification.failed`: one notification (an incident moment, or an alert
 * group's flush, for one receiver) delivered, or given up on (a permanent refusal, attempts or
 * give_up_after spent). An incident's names `incident_id`; an alert group's names `group_id`
 * (`grp-…`) and `group_key` and has `moment: "alert_group"`. Never the receiver's URL, key or
 * address: only its name.
 */
export const NotificationData = z.object({
  key: z.string(),
  incident_id: z.string().optional(),
  group_id: z.string().optional(),
  group_key: z.string().optional(),
  receiver: z.string(),
  integration: z.string(),
  moment: z.string(),
  attempts: z.number(),
  status: z.number().optional(),
  error: z.string().optional(),
});

/** The event map, in the order the README lists it. */
export const EVENT_DATA = {
  "alert.accepted": AlertAcceptedData,
  "alert.deduped": AlertDedupedData,
  "alert.rejected": AlertRejectedData,
  "alert.resolved": AlertResolvedData,
  "alert.suppressed": AlertSuppressedData,
  "alert.acked": AlertAckedData,
  "alert.failed": AlertFailedData,
  "alert.dead": AlertDeadData,
  "incident.created": IncidentCreatedData,
  "incident.updated": IncidentChangeData,
  "incident.reopened": IncidentChangeData,
  "incident.escalated": IncidentEscalatedData,
  "incident.acknowledged": IncidentAckData,
  "incident.unacknowledged": IncidentAckData,
  "incident.closed": IncidentChangeData,
  "incident.resolved": IncidentChangeData,
  "triage.completed": GraphDoneData,
  "postmortem.drafted": GraphDoneData,
  "graph.failed": GraphFailedData,
  "backlog.generated": BacklogGeneratedData,
  "backlog.created": BacklogItemData,
  "backlog.updated": BacklogItemData,
  "backlog.cleaned": BacklogCleanedData,
  "job.queued": jobData("queued"),
  "job.running": jobData("running"),
  "job.succeeded": jobData("succeeded"),
  "job.failed": jobData("failed"),
  "job.canceled": jobData("canceled"),
  "job.skipped": jobData("skipped"),
  "nodes.status": NodesStatusData,
  "silence.created": SilenceData,
  "silence.updated": SilenceData,
  "silence.expired": SilenceData,
  "notification.sent": NotificationData,
  "notification.failed": NotificationData,
} as const satisfies Record<`${string}.${string}`, z.ZodType<Record<string, unknown>>>;

export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];
/** What a publisher sends as `data` for an event of type T. */
export type EventData<T extends EventType> = z.input<(typeof EVENT_DATA)[T]>;

/** The event type of a job run's status: `job.<status>`. */
export const jobEventType = <S extends JobStatus>(status: S): `job.${S}` => `job.${status}`;
// Every job status has its event (a status added without one fails here).
const _everyJobStatus: Record<`job.${JobStatus}`, unknown> = EVENT_DATA;
void _everyJobStatus;

export const isEventType = (type: string): type is EventType => Object.hasOwn(EVENT_DATA, type);

/** An event's data checked against its type's schema; null for a type opsbus does not publish. */
export function parseEventData<T extends EventType>(type: T, data: unknown): z.ZodSafeParseResult<z.output<(typeof EVENT_DATA)[T]>>;
export function parseEventData(type: string, data: unknown): z.ZodSafeParseResult<Record<string, unknown>> | null;
export function parseEventData(type: string, data: unknown) {
  return isEventType(type) ? EVENT_DATA[type].safeParse(data) : null;
}
