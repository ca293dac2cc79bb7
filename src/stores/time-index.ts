/**
 * An in-memory ordered index of ids by a time (epoch ms), for the memory and JSONL backends: the
 * window reads (incidents by started_at, alerts by last_seen_at) walk only the window, newest
 * first, instead of every record the store holds.
 *
 * Entries are kept sorted by (time, id) in chunks of bounded size, so an insert or a move costs a
 * binary search and a splice of one chunk, not of the whole index. Ties order by id in byte order,
 * which is what the stores' `COLLATE "C"` orders mean.
 */

interface Entry {
  t: number;
  id: string;
}

/** Entries per chunk before it is split in two. */
const MAX_CHUNK = 512;

const before = (a: Entry, t: number, id: string) => a.t < t || (a.t === t && a.id < id);

export class TimeIndex {
  private chunks: Entry[][] = [];
  private readonly times = new Map<string, number>();

  get size(): number {
    return this.times.size;
  }

  /** The indexed time of `id`, if indexed. */
  timeOf(id: string): number | undefined {
    return this.times.get(id);
  }

  /** Indexes `id` at `t`, moving it when it was indexed at another time. NaN times are not indexed. */
  set(id: string, t: number): void {
    const prev = this.times.get(id);
    if (prev === t) return;
    if (prev !== undefined) this.remove(id, prev);
    if (Number.isNaN(t)) return;
    this.times.set(id, t);
    this.insert({ t, id });
  }

  delete(id: string): void {
    const prev = this.times.get(id);
    if (prev !== undefined) this.remove(id, prev);
  }

  clear(): void {
    this.chunks = [];
    this.times.clear();
  }

  /** Ids with `lo ≤ time < hi`, newest first (ties by id descending). Do not write while iterating. */
  *newestFirst(lo = -Infinity, hi = Infinity): Generator<string> {
    let c = this.chunkFor(hi, "");
    if (c === this.chunks.length) c--;
    for (; c >= 0; c--) {
      const chunk = this.chunks[c]!;
      for (let i = chunk.length - 1; i >= 0; i--) {
        const e = chunk[i]!;
        if (e.t >= hi) continue;
        if (e.t < lo) return;
        yield e.id;
      }
    }
  }

  /** The first chunk whose last entry is not before (t, id); chunks.length when there is none. */
  private chunkFor(t: number, id: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.chunks[mid]!.at(-1)!, t, id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Position of the first entry of `chunk` not before (t, id). */
  private static position(chunk: Entry[], t: number, id: string): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(chunk[mid]!, t, id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insert(e: Entry): void {
    if (this.chunks.length === 0) {
      this.chunks.push([e]);
      return;
    }
    let c = this.chunkFor(e.t, e.id);
    if (c === this.chunks.length) c--; // newest so far: appended to the last chunk (the common case)
    const chunk = this.chunks[c]!;
    chunk.splice(TimeIndex.position(chunk, e.t, e.id), 0, e);
    if (chunk.length > MAX_CHUNK) this.chunks.splice(c + 1, 0, chunk.splice(chunk.length >>> 1));
  }

  private remove(id: string, t: number): void {
    this.times.delete(id);
    const c = this.chunkFor(t, id);
    const chunk = this.chunks[c];
    if (!chunk) return;
    const i = TimeIndex.position(chunk, t, id);
    if (chunk[i]?.id !== id) return;
    chunk.splice(i, 1);
    if (chunk.length === 0) this.chunks.splice(c, 1);
  }
}
