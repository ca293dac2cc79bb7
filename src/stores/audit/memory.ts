/**
 * Audit records in an array. For tests and dev; the factory refuses it in prod. The JSONL backend
 * extends it with a file under the same state.
 */
import { SerialStore } from "../serial.js";
import type { AuditQuery, AuditRecord, AuditRow, AuditStore } from "./types.js";

export const AUDIT_QUERY_BOUNDS = { defaultLimit: 100, maxLimit: 10_000 } as const;

export function auditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_QUERY_BOUNDS.defaultLimit;
  return Math.max(0, Math.min(Math.floor(limit), AUDIT_QUERY_BOUNDS.maxLimit));
}

/** `since` is inclusive and `until` exclusive, so consecutive windows never overlap. */
export function auditMatches(r: AuditRecord, q: AuditQuery): boolean {
  const ts = Date.parse(r.ts);
  if (q.since !== undefined && ts < Date.parse(q.since)) return false;
  if (q.until !== undefined && ts >= Date.parse(q.until)) return false;
  if (q.agent_id !== undefined && r.agent_id !== q.agent_id) return false;
  if (q.tool !== undefined && r.tool !== q.tool) return false;
  if (q.action !== undefined && r.action !== q.action) return false;
  if (q.decision !== undefined && r.decision !== q.decision) return false;
  if (q.status !== undefined && r.status !== q.status) return false;
  return true;
}

/** Oldest first; ties by id (the same order as the SQL). */
export function byOldest(a: AuditRecord, b: AuditRecord): number {
  const d = Date.parse(a.ts) - Date.parse(b.ts);
  if (d !== 0) return d;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class MemoryAuditStore extends SerialStore<AuditRecord> implements AuditStore {
  readonly backendName: string = "MemoryAuditStore";
  protected records = new Map<string, AuditRecord>();

  /** An id already stored is kept as it is (appends and imports are idempotent). */
  append(records: AuditRecord[]): Promise<void> {
    return this.exclusive(async () => {
      const fresh = new Map<string, AuditRecord>();
      for (const r of records) {
        if (!this.records.has(r.id) && !fresh.has(r.id)) fresh.set(r.id, structuredClone(r));
      }
      if (fresh.size === 0) return;
      await this.persist([...fresh.values()]);
      for (const [id, r] of fresh) this.records.set(id, r);
    });
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const out = [...this.records.values()].filter((r) => auditMatches(r, q)).sort(byOldest);
    if (q.newest_first) out.reverse();
    return structuredClone(out.slice(0, auditLimit(q.limit)));
  }

  purgeOlderThan(cutoff: Date): Promise<number> {
    return this.exclusive(async () => {
      let deleted = 0;
      for (const [id, r] of this.records) {
        if (Date.parse(r.ts) < cutoff.getTime()) {
          this.records.delete(id);
          deleted++;
        }
      }
      if (deleted) await this.persistAll();
      return deleted;
    });
  }

  async exportRows(): Promise<AuditRow[]> {
    return [...this.records.values()].map((data) => ({ kind: "audit", data: structuredClone(data) }));
  }

  importRows(rows: AuditRow[]): Promise<void> {
    return this.append(rows.map((r) => r.data));
  }

  clearRows(): Promise<void> {
    return this.exclusive(async () => {
      this.records.clear();
      await this.persistAll();
    });
  }
}
