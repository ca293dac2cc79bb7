/**
 * Silences in a Map, one process only: for unit tests. Same compare-and-set and live view as the
 * KV backend, with revisions from one counter as a KV bucket's stream sequence would give them.
 */
import type { Silence } from "../../silences/silence.js";
import { SilenceConflict, SilenceView, type SilenceChange, type SilenceStore, type StoredSilence } from "../../silences/store.js";

export class MemorySilenceStore implements SilenceStore {
  readonly backendName = "MemorySilenceStore";
  private readonly view = new SilenceView();
  private readonly stored = new Map<string, StoredSilence>();
  private revision = 0;

  async put(silence: Silence, expectRevision: number): Promise<number> {
    const have = this.stored.get(silence.id)?.revision ?? 0;
    if (have !== expectRevision) throw new SilenceConflict(silence.id, expectRevision);
    const revision = ++this.revision;
    const copy = structuredClone(silence);
    this.stored.set(silence.id, { silence: copy, revision });
    this.view.apply({ kind: "put", silence: structuredClone(copy), revision });
    return revision;
  }

  async get(id: string): Promise<StoredSilence | null> {
    const s = this.stored.get(id);
    return s ? { silence: structuredClone(s.silence), revision: s.revision } : null;
  }

  list(): StoredSilence[] {
    return this.view.list();
  }

  async remove(id: string, expectRevision: number): Promise<boolean> {
    if ((this.stored.get(id)?.revision ?? 0) !== expectRevision || expectRevision === 0) return false;
    this.stored.delete(id);
    this.view.apply({ kind: "removed", id, revision: ++this.revision });
    return true;
  }

  current(): readonly Silence[] {
    return this.view.current();
  }

  onChange(cb: (change: SilenceChange) => void): () => void {
    return this.view.onChange(cb);
  }

  async close(): Promise<void> {}
}
