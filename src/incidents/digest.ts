/**
 * The weekly incident digest for one ISO week: what opened, closed and stayed open, MTTR, the top
 * incidents, recurrence and overdue follow-ups — a snapshot as of the week's end, so re-running a
 * past week gives the same counts. Optionally written to `<reportsDir>/incidents/weekly/YYYY-WW.{json,md}`.
 */
import { join } from "node:path";
import type { IncidentIntelligence } from "../config/policies.js";
import { SEVERITIES, type Severity } from "../subjects/index.js";
import { SEVERITY_RANK, type IncidentRecord, type IncidentStore } from "./store.js";
import { writeFileAtomic } from "../util/fs-atomic.js";
import { followupsSummary } from "./followups.js";
import { formatIsoWeek, isoWeekRange, lastCompleteIsoWeek, parseIsoWeek } from "../util/iso-week.js";
import { digestMarkdown } from "./digest-md.js";
import { incidentHeadline } from "./headline.js";
import { eventsOf, listAllIncidents } from "./query.js";
import { bySignature, byService, recurrenceGroups, type RecurrenceEntry } from "./recurrence.js";
import type { DigestIncident, WeeklyDigest } from "./digest-types.js";

const DAY_MS = 86_400_000;
/** How far before the week incidents are read (for ones still open or closed during the week). */
export const DIGEST_LOOKBACK_DAYS = 365;

export type { DigestIncident, WeeklyDigest } from "./digest-types.js";

export interface WeeklyDigestOptions {
  /** `YYYY-WW` or `YYYY-Www`; default the last complete ISO week before `now`. */
  week?: string;
  reportsDir: string;
  save_artifacts: boolean;
}

export interface WeeklyDigestResult extends WeeklyDigest {
  /** Paths of the written files; null when save_artifacts is false. */
  files: { json: string; md: string } | null;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Pure: the digest of `incidents` (which must include everything started before `to` that matters). */
export function buildWeeklyDigest(
  week: string,
  range: { from: Date; to: Date },
  incidents: IncidentRecord[],
  followupEvents: Parameters<typeof followupsSummary>[0]["events"],
  policy: IncidentIntelligence,
  now: Date,
): WeeklyDigest {
  const from = range.from.getTime();
  const to = range.to.getTime();
  const startMs = (i: IncidentRecord) => Date.parse(i.started_at);
  const closedMs = (i: IncidentRecord) => (i.closed_at ? Date.parse(i.closed_at) : undefined);
  const known = incidents.filter((i) => startMs(i) < to);
  const opened = known.filter((i) => startMs(i) >= from);
  const closed = known.filter((i) => {
    const c = closedMs(i);
    return c !== undefined && c >= from && c < to;
  });
  const stillOpen = known.filter((i) => {
    const c = closedMs(i);
    return c === undefined || c >= to;
  });

  const by_severity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const services = new Map<string, number>();
  for (const i of opened) {
    by_severity[i.severity] += 1;
    services.set(i.service, (services.get(i.service) ?? 0) + 1);
  }
  const by_service = Object.fromEntries([...services].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  const mttr = median(closed.map((i) => (closedMs(i)! - startMs(i)) / 60_000));

  const top = new Map([...opened, ...closed].map((i) => [i.id, i]));
  const top_incidents = [...top.values()]
    .sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || startMs(b) - startMs(a) || a.id.localeCompare(b.id))
    .slice(0, policy.digest.top_incidents)
    .map((i): DigestIncident => {
      const c = closedMs(i);
      const end = c !== undefined && c < to ? c : to;
      return {
        incident_id: i.id,
        ...incidentHeadline(i),
        ...(i.closed_at ? { closed_at: i.closed_at } : {}),
        alert_count: i.alert_count,
        duration_minutes: round1((end - startMs(i)) / 60_000),
      };
    });

  const previous = known.filter((i) => startMs(i) >= from - 7 * DAY_MS && startMs(i) < from);
  const recurring = (e: RecurrenceEntry) => e.count >= policy.recurrence.min_count;
  const fu = followupsSummary({
    incidents: known,
    events: followupEvents.filter((e) => Date.parse(e.ts) < to),
    now: range.to,
    window_days: DIGEST_LOOKBACK_DAYS,
  });

  return {
    week,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    generated_at: now.toISOString(),
    totals: {
      opened: opened.length,
      closed: closed.length,
      still_open: stillOpen.length,
      by_severity,
      by_service,
      mttr_minutes: mttr === null ? null : round1(mttr),
    },
    top_incidents,
    recurrence: {
      window_days: 7,
      signatures: recurrenceGroups(opened, previous, bySignature, policy.recurrence).filter(recurring),
      services: recurrenceGroups(opened, previous, byService, policy.recurrence).filter(recurring),
    },
    followups: { open_count: fu.open_count, overdue_count: fu.overdue_count, overdue: fu.overdue },
  };
}

export function digestPaths(reportsDir: string, week: string): { json: string; md: string } {
  const base = join(reportsDir, "incidents", "weekly", week);
  return { json: `${base}.json`, md: `${base}.md` };
}

export async function weeklyDigest(
  store: IncidentStore,
  opts: WeeklyDigestOptions,
  policy: IncidentIntelligence,
  now: Date,
): Promise<WeeklyDigestResult> {
  const w = opts.week ? parseIsoWeek(opts.week) : lastCompleteIsoWeek(now);
  const week = formatIsoWeek(w);
  const range = isoWeekRange(w);
  const incidents = await listAllIncidents(store, {
    since: new Date(range.from.getTime() - DIGEST_LOOKBACK_DAYS * DAY_MS).toISOString(),
    until: range.to.toISOString(),
  });
  const events = await eventsOf(store, incidents.map((i) => i.id), "followup");
  const digest = buildWeeklyDigest(week, range, incidents, events, policy, now);
  if (!opts.save_artifacts) return { ...digest, files: null };
  const files = digestPaths(opts.reportsDir, week);
  await writeFileAtomic(files.json, `${JSON.stringify(digest, null, 2)}\n`);
  await writeFileAtomic(files.md, digestMarkdown(digest, policy.digest.markdown_max_chars));
  return { ...digest, files };
}
