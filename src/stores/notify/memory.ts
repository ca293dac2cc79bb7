/** The sent-log in memory: unit tests and embedded demos (one process). */
import { SentLogConflict, type SentLog, type SentLogQuery, type StoredNotification } from "../../notify/sent-log.js";
import type { NotificationRecord } from "../../notify/types.js";
import { byMoment, matchesQuery } from "./query.js";

export class MemorySentLog implements SentLog {
  readonly backendName = "MemorySentLog";
  private readonly records = new Map<string, StoredNotification>();
  private revision = 0;

  async get(key: string): Promise<StoredNotification | null> {
    const s = this.records.get(key);
    return s ? structuredClone(s) : null;
  }

  async put(record: NotificationRecord, expectRevision: number): Promise<number> {
    const held = this.records.get(record.key);
    if ((held?.revision ?? 0) !== expectRevision) throw new SentLogConflict(record.key);
    const revision = ++this.revision;
    this.records.set(record.key, { record: structuredClone(record), revision });
    return revision;
  }

  async ofIncident(incidentId: string): Promise<NotificationRecord[]> {
    return [...this.records.values()].map((s) => structuredClone(s.record)).filter((r) => r.incident_id === incidentId).sort(byMoment);
  }

  async ofGroup(groupId: string): Promise<NotificationRecord[]> {
    return [...this.records.values()].map((s) => structuredClone(s.record)).filter((r) => r.group?.id === groupId).sort(byMoment);
  }

  async list(q: SentLogQuery): Promise<NotificationRecord[]> {
    return [...this.records.values()]
      .map((s) => s.record)
      .filter((r) => matchesQuery(r, q))
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
      .slice(0, q.limit)
      .map((r) => structuredClone(r));
  }

  async close(): Promise<void> {}
}
