import type { Naming } from "./prefix.js";
import { alertSubjects } from "./alerts.js";
import { eventSubjects } from "./events.js";
import { graphSubjects } from "./graphs.js";
import { jobSubjects } from "./jobs.js";
import { notifySubjects } from "./notify.js";

export interface StreamSpec {
  name: string;
  subjects: string[];
  retention: "limits" | "workqueue";
  max_age_seconds: number;
  /** Publishes with the same Nats-Msg-Id inside this window are stored once. */
  duplicate_window_seconds: number;
  description: string;
}

const DAY = 24 * 3600;

/** Every stream opsbus owns; provisioned idempotently at start-up, never deleted. */
export function streamSpecs(n: Naming): StreamSpec[] {
  const a = alertSubjects(n);
  const e = eventSubjects(n);
  const g = graphSubjects(n);
  const j = jobSubjects(n);
  const o = notifySubjects(n);
  return [
    {
      name: a.stream,
      subjects: [a.inWildcard, a.batchWildcard],
      retention: "limits",
      max_age_seconds: 7 * DAY,
      duplicate_window_seconds: 15 * 60,
      description: "alerts as published by monitors",
    },
    {
      name: a.workStream,
      subjects: [a.workWildcard],
      retention: "workqueue",
      max_age_seconds: 7 * DAY,
      duplicate_window_seconds: 15 * 60,
      description: "accepted, non-deduped alerts awaiting a claimer",
    },
    {
      name: e.stream,
      subjects: [e.wildcard],
      retention: "limits",
      max_age_seconds: 30 * DAY,
      duplicate_window_seconds: 15 * 60,
      description: "everything that happened; replayable",
    },
    {
      name: g.stream,
      subjects: [g.wildcard],
      retention: "workqueue",
      max_age_seconds: 7 * DAY,
      duplicate_window_seconds: 15 * 60,
      description: "queued graph runs (triage reports, postmortem drafts)",
    },
    {
      name: j.stream,
      subjects: [j.wildcard],
      retention: "workqueue",
      max_age_seconds: 7 * DAY,
      // Longer than the largest catch-up window (6 h), so a catch-up trigger for a slot another
      // scheduler already published is dropped here; the run ledger's slot key backs it up.
      duplicate_window_seconds: 7 * 3600,
      description: "job triggers (scheduled slots and manual starts) for the job runner",
    },
    {
      name: o.stream,
      subjects: [o.wildcard],
      retention: "workqueue",
      max_age_seconds: 7 * DAY,
      // Longer than the repeat sweep's look-back, so a sweeper replaying a moment another already enqueued is dropped
      // here; the sent-log (a KV entry per key) backs it up after the window.
      duplicate_window_seconds: 2 * 3600,
      description: "the notification outbox: one message per incident moment and receiver, for the notifiers",
    },
  ];
}
