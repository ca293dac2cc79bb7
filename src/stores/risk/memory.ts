/**
 * Risk snapshots in a Map. For tests and dev; the factory refuses it in prod. The JSONL backend
 * extends it with a file under the same state.
 */
import { SerialStore } from "../serial.js";
import { byHour, riskLimit, riskMatches, type PutResult, type RiskHistoryStore, type RiskQuery, type RiskRow, type RiskSnapshot } from "../../risk/store.js";

export class MemoryRiskHistoryStore extends SerialStore<RiskSnapshot> implements RiskHistoryStore {
  readonly backendName: string = "MemoryRiskHistoryStore";
  protected snapshots = new Map<string, RiskSnapshot>();

  /** Snapshots held in process memory; health warns past JSONL_WARN_RECORDS. */
  get recordsInMemory(): number {
    return this.snapshots.size;
  }

  put(snapshots: RiskSnapshot[]): Promise<PutResult> {
    return this.exclusive(async () => {
      const fresh = new Map<string, RiskSnapshot>();
      const existing: string[] = [];
      for (const s of snapshots) {
        if (this.snapshots.has(s.id) || fresh.has(s.id)) existing.push(s.id);
        else fresh.set(s.id, structuredClone(s));
      }
      if (fresh.size) await this.persist([...fresh.values()]);
      for (const [id, s] of fresh) this.snapshots.set(id, s);
      return { inserted: [...fresh.keys()], existing };
    });
  }

  async list(q: RiskQuery): Promise<RiskSnapshot[]> {
    const out = [...this.snapshots.values()].filter((s) => riskMatches(s, q)).sort(byHour);
    return structuredClone(out.slice(0, riskLimit(q.limit)));
  }

  async latestAt(at: string, q: { env?: string; service?: string } = {}): Promise<RiskSnapshot[]> {
    const until = new Date(Date.parse(at) + 1).toISOString();
    const latest = new Map<string, RiskSnapshot>();
    for (const s of this.snapshots.values()) {
      if (!riskMatches(s, { ...q, until })) continue;
      const k = `${s.env}\u0000${s.service}`;
      const prev = latest.get(k);
      if (!prev || Date.parse(s.hour) > Date.parse(prev.hour)) latest.set(k, s);
    }
    return structuredClone([...latest.values()].sort(byHour));
  }

  async countOlderThan(cutoff: Date): Promise<number> {
    let n = 0;
    for (const s of this.snapshots.values()) if (Date.parse(s.hour) < cutoff.getTime()) n++;
    return n;
  }

  purgeOlderThan(cutoff: Date): Promise<number> {
    return this.exclusive(async () => {
      let deleted = 0;
      for (const [id, s] of this.snapshots) {
        if (Date.parse(s.hour) < cutoff.getTime()) {
          this.snapshots.delete(id);
          deleted++;
        }
      }
      if (deleted) await this.persistAll();
      return deleted;
    });
  }

  async exportRows(): Promise<RiskRow[]> {
    return [...this.snapshots.values()].map((data) => ({ kind: "risk", data: structuredClone(data) }));
  }

  async importRows(rows: RiskRow[]): Promise<void> {
    await this.put(rows.filter((r) => r.kind === "risk").map((r) => r.data));
  }

  clearRows(): Promise<void> {
    return this.exclusive(async () => {
      this.snapshots.clear();
      await this.persistAll();
    });
  }
}
