/**
 * Audit records in an array. For tests and dev; the factory refuses it in prod. The JSONL backend
 * extends it with a file under the same state.
 */
import { SerialStore } from "../serial.js";
import { auditLimit, auditMatches, type AuditQuery, type AuditRecord, type AuditRow, type AuditStore } from "../../audit/store.js";

/** Oldest first; ties by id (the same order as the SQL). */
export function byOldest(a: AuditRecord, b: AuditRecord): number {
  const d = Date.parse(a.ts) - Date.parse(b.ts);
  if (d !== 0) return d;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class MemoryAuditStore extends SerialStore<AuditRecord> implements AuditStore {
  readonly backendName: string = "MemoryAuditStore";
  protected records = new Map<string, AuditRecord>();

  /** Records held in process memory; health warns past JSONL_WARN_RECORDS. */
  get recordsInMemory(): number {
    return this.records.size;
  }

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
