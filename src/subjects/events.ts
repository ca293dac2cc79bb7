import { z } from "zod";
import type { Naming } from "./prefix.js";

/** Every event type opsbus publishes on `ops.events.<domain>.<type>`. */
export const EVENT_TYPES = [
  "alert.accepted",
  "alert.deduped",
  "alert.rejected",
  "alert.claimed",
  "alert.acked",
  "alert.failed",
  "alert.dead",
  "incident.created",
  "incident.updated",
  "incident.reopened",
  "incident.escalated",
  "incident.closed",
  "triage.completed",
  "postmortem.drafted",
  "graph.failed",
  "backlog.generated",
  "backlog.created",
  "backlog.updated",
  "backlog.cleaned",
  "job.queued",
  "job.running",
  "job.succeeded",
  "job.failed",
  "job.canceled",
  "job.skipped",
  "nodes.status",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EventEnvelope = z.object({
  id: z.string(),
  type: z.string(),
  ts: z.string(),
  node_id: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** `alert.rejected`: what was received and why it was refused, kept for inspection. */
export interface AlertRejectedData {
  subject: string;
  stream_seq?: number;
  reasons: string[];
  /** The raw payload: UTF-8 text when it decodes, base64 otherwise. */
  raw: string;
  raw_encoding: "utf8" | "base64";
  raw_bytes: number;
}

/**
 * `incident.created`: what a subscriber needs to route or page on without a second lookup —
 * service, env, severity (as opened, after the cap) and title — beside the ids. Published by the
 * bridge (with the alert that opened it) and by `oncall_tool.incident_create`.
 */
export const IncidentCreatedData = z
  .object({
    incident_id: z.string(),
    service: z.string(),
    env: z.enum(["dev", "staging", "prod"]),
    severity: z.enum(["P0", "P1", "P2", "P3"]),
    title: z.string(),
    alert_ref: z.string().optional(),
    signature: z.string().optional(),
  })
  .passthrough();
export type IncidentCreatedData = z.infer<typeof IncidentCreatedData>;

/** `alert.deduped`: one per ingest batch, for every alert that absorbed duplicates in it. */
export interface AlertDedupedData {
  /** Duplicates absorbed in this batch, over all alerts. */
  count: number;
  alerts: Array<{ alert_ref: string; fingerprint: string; service: string; count: number; occurrences: number }>;
}

export function eventSubjects(n: Naming) {
  return {
    stream: `${n.streamPrefix}_EVENTS`,
    wildcard: `${n.prefix}.events.>`,
    of: (type: EventType | string) => `${n.prefix}.events.${type}`,
  };
}
