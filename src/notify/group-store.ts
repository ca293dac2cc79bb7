/**
 * The alert-group store port: one state per group (src/notify/groups.ts), every write
 * compare-and-set on the group's revision, so of several planners updating or flushing one group
 * only one write lands; the others read again and apply their change to what is there.
 */
import type { GroupState } from "./groups.js";

export interface StoredGroup {
  state: GroupState;
  revision: number;
}

/** The group was not at the revision the write expected (0: it already exists). */
export class GroupConflict extends Error {
  override name = "GroupConflict";
  constructor(readonly id: string) {
    super(`alert group ${id} changed meanwhile`);
  }
}

export interface GroupStore {
  readonly backendName: string;
  get(id: string): Promise<StoredGroup | null>;
  /** Writes if the stored revision is `expectRevision` (0: only if new); the new revision, or `GroupConflict`. */
  put(state: GroupState, expectRevision: number): Promise<number>;
  /** Deletes if the stored revision is `expectRevision`, or `GroupConflict`. */
  delete(id: string, expectRevision: number): Promise<void>;
  /**
   * Groups whose next flush is due at `now` or that hold a flush not yet confirmed on the outbox,
   * as last seen (maybe a revision behind: a write at a stale revision is a `GroupConflict`).
   */
  due(now: Date): Promise<StoredGroup[]>;
  close(): Promise<void>;
}

export const isDueOrPending = (s: StoredGroup, now: Date): boolean => s.state.outbox !== undefined || Date.parse(s.state.next_flush_at) <= now.getTime();
