/** What both sent-log backends filter and sort by. */
import type { SentLogQuery } from "../../notify/sent-log.js";
import type { NotificationRecord } from "../../notify/types.js";

const DAY_MS = 86_400_000;

export const byMoment = (a: NotificationRecord, b: NotificationRecord): number =>
  a.moment_at.localeCompare(b.moment_at) || a.seq - b.seq || a.key.localeCompare(b.key);

/** `since` defaults to the last day unless one incident (or one alert group) is asked for. */
export function sinceOf(q: SentLogQuery, now = Date.now()): string | undefined {
  return q.since ?? (q.incident_id || q.group_id ? undefined : new Date(now - DAY_MS).toISOString());
}

export function matchesQuery(r: NotificationRecord, q: SentLogQuery): boolean {
  const since = sinceOf(q);
  return (
    (q.incident_id === undefined || r.incident_id === q.incident_id) &&
    (q.group_id === undefined || r.group?.id === q.group_id) &&
    (q.kind === undefined || (q.kind === "alert_group") === (r.group !== undefined)) &&
    (q.receiver === undefined || r.receiver === q.receiver) &&
    (q.status === undefined || r.status === q.status) &&
    (since === undefined || r.updated_at >= since)
  );
}
