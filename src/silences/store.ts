/**
 * The silence store port. Every process holds a live copy of every stored silence (`current()`),
 * kept up to date by the backend (a JetStream KV watch: a change made on one process shows on the
 * others within a second), so ingest can match alerts against silences without a round trip.
 *
 * Writes are compare-and-set on the record's revision, so two processes deciding on the same
 * silence at once cannot both win: the loser gets `SilenceConflict` and decides again on what is
 * stored now. That is what keeps an expired silence expired: an update made from a copy read
 * before the expiry is refused rather than writing the old `ends_at` back.
 */
import type { Silence } from "./silence.js";

/** A stored silence and the revision a compare-and-set names. */
export interface StoredSilence {
  silence: Silence;
  revision: number;
}

/** What a change callback is told: a silence written (created, updated, expired) or removed by retention. */
export type SilenceChange = { kind: "put"; silence: Silence; revision: number } | { kind: "removed"; id: string; revision: number };

/** The stored revision was not the one the write expected (0: the id already exists). */
export class SilenceConflict extends Error {
  override name = "SilenceConflict";
  constructor(
    readonly id: string,
    readonly expected: number,
  ) {
    super(expected === 0 ? `silence ${id} already exists` : `silence ${id} changed since revision ${expected}`);
  }
}

/** Where a live copy stands against its backend: revisions applied, the backend's last, and whether its feed is up. */
export interface LiveCopyState {
  applied: number;
  stored: number;
  watching: boolean;
}

export interface SilenceStore {
  /** `KvSilenceStore`, `MemorySilenceStore`. */
  readonly backendName: string;
  /** The live copy against the backend; absent where the store is its own live copy (memory). */
  liveCopy?(): Promise<LiveCopyState>;
  /**
   * Writes `silence` if the stored revision is `expectRevision` (0: only if the id is new);
   * returns the new revision, or throws `SilenceConflict`.
   */
  put(silence: Silence, expectRevision: number): Promise<number>;
  /** The stored silence as the backend holds it now (not the live copy): what a compare-and-set starts from. */
  get(id: string): Promise<StoredSilence | null>;
  /** Every stored silence (pending, active, expired within retention), from the live copy. */
  list(): StoredSilence[];
  /** Deletes a silence (retention only) if still at `expectRevision`; false when it changed or is gone. */
  remove(id: string, expectRevision: number): Promise<boolean>;
  /** The live copy: every stored silence, whatever its state (the state depends on the time asked). */
  current(): readonly Silence[];
  /** Called after each change to the live copy, this process's own writes included; returns an unsubscribe. */
  onChange(cb: (change: SilenceChange) => void): () => void;
  close(): Promise<void>;
}

/** The live copy and its listeners, shared by every backend: a change applies only if newer than what is held. */
export class SilenceView {
  private readonly held = new Map<string, StoredSilence>();
  /** Revisions of removed ids, so a late put from before the removal is not taken back in. */
  private readonly removedAt = new Map<string, number>();
  private readonly listeners = new Set<(change: SilenceChange) => void>();
  private snapshot: readonly Silence[] | null = null;

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  apply(change: SilenceChange): boolean {
    const id = change.kind === "put" ? change.silence.id : change.id;
    const have = this.held.get(id)?.revision ?? this.removedAt.get(id) ?? 0;
    if (change.revision <= have) return false;
    if (change.kind === "put") {
      this.held.set(id, { silence: change.silence, revision: change.revision });
      this.removedAt.delete(id);
    } else {
      this.held.delete(id);
      this.removedAt.set(id, change.revision);
    }
    this.snapshot = null;
    for (const cb of this.listeners) {
      try {
        cb(change);
      } catch (err) {
        this.onListenerError(err);
      }
    }
    return true;
  }

  revisionOf(id: string): number {
    return this.held.get(id)?.revision ?? 0;
  }

  list(): StoredSilence[] {
    return [...this.held.values()].map((s) => ({ silence: structuredClone(s.silence), revision: s.revision }));
  }

  /** One frozen array per change, so ingest can read it on every alert for free. */
  current(): readonly Silence[] {
    return (this.snapshot ??= Object.freeze([...this.held.values()].map((s) => Object.freeze(structuredClone(s.silence)))));
  }

  onChange(cb: (change: SilenceChange) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }
}
