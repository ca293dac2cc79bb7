import { z } from "zod";
import { OPS_ENVS, type OpsEnv } from "../config/env.js";
import type { Naming } from "./prefix.js";
import { token } from "./prefix.js";

export const SEVERITIES = ["P0", "P1", "P2", "P3"] as const;
export type Severity = (typeof SEVERITIES)[number];
/** `suppressed`: silenced, inhibited or muted at ingest: stored and counted, but no work until released. */
export const ALERT_STATUSES = ["new", "processing", "acked", "failed", "suppressed"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Known alert fields; anything else a monitor sends is kept under `meta`. */
export const ALERT_FIELDS = [
  "service", "title", "kind", "severity", "env", "source", "message",
  "fingerprint", "labels", "starts_at", "dedupe_ttl_minutes", "status", "ends_at",
] as const;
// `annotations` and `generator_url` are validated but, like any other field, kept under `meta`.

export interface AlertShapeLimits {
  kinds: string[];
  severity_map: Record<string, Severity>;
  max_text_chars: number;
  max_labels: number;
}

/**
 * The alert a monitor publishes on `ops.alerts.in.<service>` or sends to `alert_ingest_tool.ingest`.
 * Built from policy because the allowed kinds and severity names are configured.
 */
export function alertInputSchema(limits: AlertShapeLimits) {
  const text = (max: number) => z.string().trim().min(1).max(max);
  const severityNames = [...SEVERITIES, ...Object.keys(limits.severity_map)];
  const knownSeverity = new Set(severityNames.map((n) => n.toLowerCase()));
  return z
    .object({
      service: text(128).regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "letters, digits, _ . : - (a service name)"),
      // A resolve (`status: "resolved"`) needs only service and fingerprint: the normaliser requires the title of a firing.
      title: text(512).optional(),
      kind: z.enum(limits.kinds as [string, ...string[]]).default("custom"),
      severity: z
        .string()
        .refine((s) => knownSeverity.has(s.toLowerCase()), {
          message: `one of ${severityNames.join(", ")}`,
        })
        .default("P2"),
      env: z.enum(OPS_ENVS).default("prod"),
      source: text(256).default("unknown"),
      message: z.string().max(limits.max_text_chars).optional(),
      fingerprint: text(256).optional(),
      labels: z
        .record(z.string().max(128), z.union([z.string().max(1024), z.number(), z.boolean()]))
        .refine((l) => Object.keys(l).length <= limits.max_labels, { message: `at most ${limits.max_labels} labels` })
        .default({}),
      starts_at: z.iso.datetime({ offset: true }).optional(),
      dedupe_ttl_minutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
      status: z.enum(["firing", "resolved"]).default("firing"),
      ends_at: z.iso.datetime({ offset: true }).optional(),
      annotations: z.record(z.string().max(128), z.string().max(limits.max_text_chars)).optional(),
      generator_url: z.string().max(2048).optional(),
    })
    .catchall(z.unknown());
}
export type AlertInput = z.infer<ReturnType<typeof alertInputSchema>>;

/** The alert as stored: normalised, with dedupe and work state. */
export interface AlertRecord {
  alert_ref: string;
  fingerprint: string;
  service: string;
  title: string;
  kind: string;
  severity: Severity;
  env: OpsEnv;
  source: string;
  message?: string;
  labels: Record<string, string | number | boolean>;
  /** Fields the monitor sent that opsbus does not know: kept, never dropped. */
  meta: Record<string, unknown>;
  starts_at: string;
  /**
   * When the alert stops firing unless it is seen again: the sender's `ends_at`, else the last
   * sighting plus `resolve_timeout_minutes`. Absent on alerts stored before the lifecycle existed.
   */
  ends_at?: string;
  /** When the alert was resolved (its `ends_at` passed, or a resolve arrived); cleared by a new firing. */
  resolved_at?: string;
  created_at: string;
  last_seen_at: string;
  /** Until when a new alert with the same fingerprint is counted here instead of opening new work. */
  dedupe_until: string;
  occurrences: number;
  status: AlertStatus;
  owner?: string;
  lock_until?: string;
  attempts: number;
  last_error?: string;
  /** When a failed alert becomes claimable again; absent when it failed for good (dead). */
  retry_at?: string;
  dead: boolean;
  ack_note?: string;
  acked_at?: string;
  /** The JetStream delivery the current claim holds; a settle call for another delivery is stale. */
  delivery?: AlertDelivery;
  /** What held it back when it was last suppressed (status `suppressed`): silence ids, source alerts, window names. */
  suppression?: AlertSuppression;
}

export interface AlertSuppression {
  silenced_by: string[];
  inhibited_by: string[];
  muted_by: string[];
}

export interface AlertDelivery {
  stream_seq: number;
  delivery_count: number;
  /** The delivery's ack subject; settling publishes here, from any connection. */
  reply: string;
}

/** Work item on `ops.alerts.work.<service>`: an accepted, non-deduped alert awaiting a claimer. */
export const AlertWorkItem = z.object({ alert_ref: z.string().min(1) });
export type AlertWorkItem = z.infer<typeof AlertWorkItem>;

/**
 * A batch of alerts received through a compatible HTTP intake (Alertmanager API v2, PagerDuty
 * Events v2) on `ops.alerts.batch.<via>`: one JetStream message per request, so a 256-alert POST
 * costs one publish. Each entry of `alerts` is an alert payload as on `ops.alerts.in.<service>`,
 * or, with `format: "alertmanager-v2"`, an Alertmanager API v2 postable alert exactly as its sender
 * posted it (the worker maps it as the intake checked it, with `received_at` as now). The
 * ingest worker expands the batch and validates, dedupes and persists every entry on its own
 * (receipts `<stream>@<created>:<seq>:<index>`), so one bad entry never takes its batch-mates down.
 */
export const MAX_ALERTS_PER_BATCH = 1000;
/** The `via` of the Alertmanager API v2 intake's batches: their alerts without a start join the active firing. */
export const ALERTMANAGER_VIA = "alertmanager";
/**
 * The `via` of the PagerDuty Events API v2 intake's batches. As PagerDuty keeps an alert open, a
 * trigger fires until its resolve (no resolve timeout), and a trigger while it fires is
 * deduplicated into it (refreshed, not counted), whatever timestamp it names.
 */
export const PAGERDUTY_VIA = "pagerduty";
export const BATCH_FORMATS = ["alertmanager-v2"] as const;
export type BatchFormat = (typeof BATCH_FORMATS)[number];
export const AlertBatchMessage = z.object({
  v: z.literal(1),
  /** Which intake received it: `alertmanager`, `pagerduty`, … (also the subject's last token). */
  via: z.string().min(1).max(64),
  received_at: z.iso.datetime({ offset: true }),
  /** The authenticated caller (agent id) the intake audited the request under. */
  caller: z.string().max(200).optional(),
  /** Absent: opsbus alert payloads. `alertmanager-v2`: the request's own alerts (see above). */
  format: z.enum(BATCH_FORMATS).optional(),
  alerts: z.array(z.unknown()).min(1).max(MAX_ALERTS_PER_BATCH),
});
export type AlertBatchMessage = z.infer<typeof AlertBatchMessage>;

export function alertSubjects(n: Naming) {
  const workStream = `${n.streamPrefix}_ALERT_WORK`;
  const workConsumer = "alerts-work";
  return {
    stream: `${n.streamPrefix}_ALERTS`,
    inWildcard: `${n.prefix}.alerts.in.>`,
    in: (service: string) => `${n.prefix}.alerts.in.${token(service)}`,
    /** Batches from the HTTP intakes (see AlertBatchMessage); same stream and ingest consumer as `in`. */
    batchWildcard: `${n.prefix}.alerts.batch.>`,
    batch: (via: string) => `${n.prefix}.alerts.batch.${token(via)}`,
    workStream,
    workWildcard: `${n.prefix}.alerts.work.>`,
    work: (service: string) => `${n.prefix}.alerts.work.${token(service)}`,
    /** Durable consumers. */
    ingestConsumer: "alerts-ingest",
    workConsumer,
    /** The server's advisory that a work item exhausted max_deliver (it names the stream sequence). */
    workExhaustedAdvisory: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${workStream}.${workConsumer}`,
  };
}
