/** Alert groups in memory: unit tests and one-process demos. */
import { GroupConflict, isDueOrPending, type GroupStore, type StoredGroup } from "../../notify/group-store.js";
import type { GroupState } from "../../notify/groups.js";

export class MemoryGroupStore implements GroupStore {
  readonly backendName = "MemoryGroupStore";
  private readonly groups = new Map<string, StoredGroup>();
  private revision = 0;

  async get(id: string): Promise<StoredGroup | null> {
    const s = this.groups.get(id);
    return s ? structuredClone(s) : null;
  }

  async put(state: GroupState, expectRevision: number): Promise<number> {
    if ((this.groups.get(state.id)?.revision ?? 0) !== expectRevision) throw new GroupConflict(state.id);
    const revision = ++this.revision;
    this.groups.set(state.id, { state: structuredClone(state), revision });
    return revision;
  }

  async delete(id: string, expectRevision: number): Promise<void> {
    if ((this.groups.get(id)?.revision ?? 0) !== expectRevision) throw new GroupConflict(id);
    this.groups.delete(id);
  }

  async due(now: Date): Promise<StoredGroup[]> {
    return [...this.groups.values()].filter((s) => isDueOrPending(s, now)).map((s) => structuredClone(s));
  }

  /** Every group (tests). */
  all(): GroupState[] {
    return [...this.groups.values()].map((s) => structuredClone(s.state));
  }

  async close(): Promise<void> {}
}
