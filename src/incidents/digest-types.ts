/** The weekly incident digest's data: what digest.ts computes and digest-md.ts renders. */
import type { Severity } from "../subjects/index.js";
import type { OverdueFollowup } from "./followups.js";
import type { RecurrenceEntry } from "./recurrence.js";
import type { IncidentRecord } from "./store.js";

export interface DigestIncident {
  incident_id: string;
  service: string;
  env: IncidentRecord["env"];
  severity: Severity;
  title: string;
  status: IncidentRecord["status"];
  started_at: string;
  closed_at?: string;
  alert_count: number;
  /** Minutes from start to close, or to the week's end when not closed by then. */
  duration_minutes: number;
}

export interface WeeklyDigest {
  /** `YYYY-WW` */
  week: string;
  from: string;
  to: string;
  generated_at: string;
  totals: {
    /** Started in the week. */
    opened: number;
    /** Closed in the week (whenever they started). */
    closed: number;
    /** Open at the week's end (started before it, not closed by then). */
    still_open: number;
    /** Of the opened ones. */
    by_severity: Record<Severity, number>;
    by_service: Record<string, number>;
    /** Median start-to-close of the closed ones; null when none closed. */
    mttr_minutes: number | null;
  };
  top_incidents: DigestIncident[];
  recurrence: { window_days: 7; signatures: RecurrenceEntry[]; services: RecurrenceEntry[] };
  followups: { open_count: number; overdue_count: number; overdue: OverdueFollowup[] };
}
