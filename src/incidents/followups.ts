/**
 * Follow-ups: `followup` events whose meta is a FollowupMeta. The first event with a followup_id
 * opens it; later ones with the same id update status, owner, due date (and title).
 */
import { invalid } from "../errors.js";
import { SEVERITIES, type Severity } from "../subjects/index.js";
import { SEVERITY_RANK, type FollowupMeta, type IncidentEvent, type IncidentRecord } from "./store.js";

const DAY_MS = 86_400_000;
const FOLLOWUP_STATUSES = ["open", "done", "cancelled"] as const;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export interface Followup extends FollowupMeta {
  incident_id: string;
  /** The event that opened it and the newest one that changed it. */
  created_at: string;
  updated_at: string;
  created_by: string;
  /** Events that make up its history, oldest first. */
  event_ids: string[];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function statusOf(v: unknown): FollowupMeta["status"] | undefined {
  return FOLLOWUP_STATUSES.find((s) => s === v);
}

/** Follow-ups of the given events (any incidents), in order of creation; non-followup events are ignored. */
export function followupsFromEvents(events: IncidentEvent[]): Followup[] {
  const byId = new Map<string, Followup>();
  const sorted = events.filter((e) => e.type === "followup").sort((a, b) => a.ts.localeCompare(b.ts)); // stable: same-instant events keep store order
  for (const ev of sorted) {
    const m = ev.meta;
    const id = str(m.followup_id) ?? ev.id;
    const key = `${ev.incident_id}\u0000${id}`;
    const prev = byId.get(key);
    if (!prev) {
      byId.set(key, {
        followup_id: id,
        incident_id: ev.incident_id,
        title: str(m.title) ?? ev.message,
        owner: str(m.owner) ?? "",
        due_date: str(m.due_date) ?? "",
        status: statusOf(m.status) ?? "open",
        created_at: ev.ts,
        updated_at: ev.ts,
        created_by: ev.author,
        event_ids: [ev.id],
      });
      continue;
    }
    prev.title = str(m.title) ?? prev.title;
    prev.owner = str(m.owner) ?? prev.owner;
    prev.due_date = str(m.due_date) ?? prev.due_date;
    prev.status = statusOf(m.status) ?? prev.status;
    prev.updated_at = ev.ts;
    prev.event_ids.push(ev.id);
  }
  return [...byId.values()];
}

/** The instant a due date has passed: the end of the day (UTC) for a date, the instant itself otherwise. */
export function dueInstant(due: string): number | undefined {
  if (DATE_ONLY.test(due)) {
    const ms = Date.parse(`${due}T00:00:00Z`);
    return Number.isNaN(ms) ? undefined : ms + DAY_MS;
  }
  const ms = Date.parse(due);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whole days overdue (0 when overdue by less than a day); undefined when not overdue or not open. */
export function daysOverdue(f: Pick<FollowupMeta, "status" | "due_date">, now: Date): number | undefined {
  if (f.status !== "open") return undefined;
  const due = dueInstant(f.due_date);
  if (due === undefined || now.getTime() < due) return undefined;
  // For a date, the day after the due date is day 1.
  const start = DATE_ONLY.test(f.due_date) ? due - DAY_MS : due;
  return Math.max(DATE_ONLY.test(f.due_date) ? 1 : 0, Math.floor((now.getTime() - start) / DAY_MS));
}

export interface OverdueFollowup {
  incident_id: string;
  followup_id: string;
  title: string;
  owner: string;
  due_date: string;
  severity: Severity;
  days_overdue: number;
}

export interface FollowupsSummary {
  window_days: number;
  open_count: number;
  overdue_count: number;
  by_severity: Record<Severity, { open: number; overdue: number }>;
  overdue: OverdueFollowup[];
  /** Incidents not closed, by severity (what a release gate weighs next to overdue follow-ups). */
  open_incidents: Record<Severity, number>;
}

export interface FollowupsSummaryInput {
  incidents: IncidentRecord[];
  /** Events of those incidents (others are ignored); only `followup` events matter. */
  events: IncidentEvent[];
  now: Date;
  service?: string;
  env?: string;
  /** Incidents started within this many days count, and every incident not yet closed. */
  window_days: number;
}

/** Whether an incident belongs in a follow-ups summary (see FollowupsSummaryInput.window_days). */
export function inFollowupScope(inc: IncidentRecord, q: { service?: string; env?: string; window_days: number }, now: Date): boolean {
  if (q.service && inc.service !== q.service) return false;
  if (q.env && inc.env !== q.env) return false;
  return inc.status !== "closed" || Date.parse(inc.started_at) >= now.getTime() - q.window_days * DAY_MS;
}

const zeroBySeverity = <T>(make: () => T) => Object.fromEntries(SEVERITIES.map((s) => [s, make()])) as Record<Severity, T>;

export function followupsSummary(input: FollowupsSummaryInput): FollowupsSummary {
  const { now } = input;
  const scope = new Map(input.incidents.filter((i) => inFollowupScope(i, input, now)).map((i) => [i.id, i]));
  const by_severity = zeroBySeverity(() => ({ open: 0, overdue: 0 }));
  const open_incidents = zeroBySeverity(() => 0);
  for (const inc of scope.values()) if (inc.status !== "closed") open_incidents[inc.severity] += 1;

  const overdue: OverdueFollowup[] = [];
  let open_count = 0;
  for (const f of followupsFromEvents(input.events.filter((e) => scope.has(e.incident_id)))) {
    if (f.status !== "open") continue;
    const inc = scope.get(f.incident_id)!;
    open_count += 1;
    by_severity[inc.severity].open += 1;
    const days = daysOverdue(f, now);
    if (days === undefined) continue;
    by_severity[inc.severity].overdue += 1;
    overdue.push({ incident_id: inc.id, followup_id: f.followup_id, title: f.title, owner: f.owner, due_date: f.due_date, severity: inc.severity, days_overdue: days });
  }
  overdue.sort(
    (a, b) =>
      b.days_overdue - a.days_overdue ||
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      a.incident_id.localeCompare(b.incident_id) ||
      a.followup_id.localeCompare(b.followup_id),
  );
  return { window_days: input.window_days, open_count, overdue_count: overdue.length, by_severity, overdue, open_incidents };
}

/** A due date the summary can read: YYYY-MM-DD or an ISO timestamp. */
export function validDueDate(due: string): boolean {
  return (DATE_ONLY.test(due) || /^\d{4}-\d{2}-\d{2}T/.test(due)) && dueInstant(due) !== undefined;
}

/**
 * The message and meta of a `followup` event an agent appends. A followup_id already on the
 * incident makes it an update (any of title/owner/due_date/status); otherwise it opens one, and
 * title, owner and due_date are required. Other meta keys are kept.
 */
export function followupEvent(
  existing: Followup[],
  meta: Record<string, unknown>,
  message: string | undefined,
  newFollowupId: () => string,
): { message: string; meta: Record<string, unknown>; update: boolean } {
  const errors: string[] = [];
  const field = (k: "title" | "owner" | "due_date" | "followup_id") => {
    const v = meta[k];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.trim() === "" || v.length > 500) errors.push(`meta.${k} must be a non-empty string (≤ 500 chars)`);
    return typeof v === "string" ? v.trim() : undefined;
  };
  const id = field("followup_id");
  const title = field("title");
  const owner = field("owner");
  const due = field("due_date");
  const status = meta.status === undefined ? undefined : statusOf(meta.status);
  if (meta.status !== undefined && !status) errors.push(`meta.status must be one of ${FOLLOWUP_STATUSES.join(", ")}`);
  if (due !== undefined && !validDueDate(due)) errors.push("meta.due_date must be YYYY-MM-DD or an ISO timestamp");
  const prev = id === undefined ? undefined : existing.find((f) => f.followup_id === id);
  if (prev) {
    if (title === undefined && owner === undefined && due === undefined && status === undefined) {
      errors.push(`follow-up ${id} exists: an update needs meta.status, owner, due_date or title`);
    }
  } else {
    if (title === undefined) errors.push("a new follow-up needs meta.title");
    if (owner === undefined) errors.push("a new follow-up needs meta.owner");
    if (due === undefined) errors.push("a new follow-up needs meta.due_date");
  }
  if (errors.length) throw invalid(`invalid follow-up: ${errors.join("; ")}`, { reasons: errors });
  const followup_id = id ?? newFollowupId();
  const out: Record<string, unknown> = { ...meta, followup_id };
  for (const [k, v] of [["title", title], ["owner", owner], ["due_date", due]] as const) if (v !== undefined) out[k] = v;
  if (prev) {
    if (status) out.status = status;
    const what = [status && `status ${status}`, owner && `owner ${owner}`, due && `due ${due}`, title && `title "${title}"`].filter(Boolean).join(", ");
    return { message: message?.trim() || `Follow-up "${prev.title}" updated: ${what}`, meta: out, update: true };
  }
  out.status = status ?? "open";
  return { message: message?.trim() || `Follow-up: ${title} (owner ${owner}, due ${due})`, meta: out, update: false };
}
