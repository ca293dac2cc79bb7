/**
 * An append-only JSON-lines file with last-write-wins per key: the persistence under every JSONL
 * store.
 *
 * - Durable: each `append` is one write of all its lines followed by fdatasync, so a batch is on
 *   disk when the promise resolves, and a kill -9 leaves at most one torn line at the end.
 * - Tolerant: a torn last line (no newline, unparsable) is ignored on load and cut off before the
 *   next append; a corrupt line in the middle is skipped, counted and logged.
 * - Compacted: when dead lines (superseded versions) outnumber live entries, and there are more than
 *   `minDeadLines` of them, the file is rewritten atomically (tmp file, fsync, rename, fsync dir)
 *   from the caller's `snapshot()`.
 *
 * Single process only: there is no file lock, and two processes appending to one file would
 * interleave and compact over each other. The owning store keeps the state; this class only keeps
 * the file and its line accounting.
 *
 * Crash granularity is the line: a batch cut short by kill -9 in the middle of its write leaves
 * its complete lines (each a valid version of one record) and a torn one, which load drops.
 */
import { mkdirSync } from "node:fs";
import { open, readFile, rename, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../log.js";

export interface JsonlLogOptions<T> {
  path: string;
  /** Identity of an entry: a later line with the same key replaces an earlier one. */
  key: (entry: T) => string;
  /** The live entries to keep when compacting (the store may drop expired ones here). */
  snapshot: () => Iterable<T>;
  /** How many live entries the store holds (lines beyond that are dead). */
  liveCount: () => number;
  logger?: Logger;
  /** Compaction waits for at least this many dead lines. Default 1000. */
  minDeadLines?: number;
}

export interface JsonlStats {
  /** Complete lines in the file. */
  lines: number;
  /** Live entries, as the store counts them. */
  live: number;
  /** Lines skipped on load because they did not parse. */
  corrupt: number;
  /** Set when the load found a torn last line (it is cut off before the next append). */
  tornTail: boolean;
}

export class JsonlLog<T> {
  private fh: FileHandle | undefined;
  private lines = 0;
  private corrupt = 0;
  /** Bytes of complete lines; anything past it is cut off before the next write. */
  private goodSize = 0;
  private needsTruncate = false;
  private needsNewline = false;
  private readonly minDead: number;

  constructor(private readonly opts: JsonlLogOptions<T>) {
    this.minDead = opts.minDeadLines ?? 1000;
  }

  get path(): string {
    return this.opts.path;
  }

  get stats(): JsonlStats {
    return { lines: this.lines, live: this.opts.liveCount(), corrupt: this.corrupt, tornTail: this.needsTruncate };
  }

  /** Reads the file; returns the latest entry per key, in order of first appearance. */
  async load(): Promise<T[]> {
    mkdirSync(dirname(this.opts.path), { recursive: true });
    let buf: Buffer;
    try {
      buf = await readFile(this.opts.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      buf = Buffer.alloc(0);
    }
    const latest = new Map<string, T>();
    this.lines = 0;
    this.corrupt = 0;
    const end = buf.lastIndexOf(0x0a) + 1;
    const body = buf.subarray(0, end).toString("utf8").split("\n");
    body.pop(); // the empty string after the final newline
    body.forEach((line, i) => {
      if (line.trim() === "") return;
      const entry = this.parse(line);
      if (entry === undefined) {
        this.corrupt++;
        this.opts.logger?.warn({ file: this.opts.path, line: i + 1 }, `jsonl: skipped corrupt line ${i + 1} of ${this.opts.path}`);
        return;
      }
      this.lines++;
      latest.set(this.opts.key(entry), entry);
    });
    this.goodSize = end;
    this.needsTruncate = false;
    this.needsNewline = false;
    const tail = buf.subarray(end).toString("utf8");
    if (tail.trim() !== "") {
      const entry = this.parse(tail);
      if (entry === undefined) {
        this.needsTruncate = true;
        this.opts.logger?.warn({ file: this.opts.path, bytes: buf.length - end }, `jsonl: ignoring torn last line of ${this.opts.path}`);
      } else {
        // A complete record that only lacks its newline (e.g. written by hand): keep it.
        this.lines++;
        latest.set(this.opts.key(entry), entry);
        this.goodSize = buf.length;
        this.needsNewline = true;
      }
    } else if (tail.length > 0) {
      this.needsTruncate = true;
    }
    return [...latest.values()];
  }

  /** Appends all entries in one write and syncs. */
  async append(entries: T[]): Promise<void> {
    if (entries.length === 0) return;
    const text = (this.needsNewline ? "\n" : "") + entries.map((e) => JSON.stringify(e)).join("\n") + "\n";
    const fh = await this.handle();
    try {
      if (this.needsTruncate) {
        await fh.truncate(this.goodSize);
        this.needsTruncate = false;
      }
      const data = Buffer.from(text, "utf8");
      let offset = 0;
      while (offset < data.length) {
        // Positional writes at the end of the known-good prefix, so a failed write is simply
        // overwritten (after the truncate above) by the next one.
        const { bytesWritten } = await fh.write(data, offset, data.length - offset, this.goodSize + offset);
        offset += bytesWritten;
      }
      await fh.datasync();
      this.goodSize += data.length;
      this.needsNewline = false;
    } catch (err) {
      // Part of the batch may be in the file: cut it off before the next write.
      this.needsTruncate = true;
      throw err;
    }
    this.lines += entries.length;
  }

  /**
   * Compacts when dead lines outnumber live entries (and exceed the minimum). Call it after the
   * appended entries are part of the store's snapshot. A failed compaction is logged, not thrown:
   * the appended lines are durable either way.
   */
  async maybeCompact(): Promise<boolean> {
    const live = this.opts.liveCount();
    const dead = this.lines - live;
    if (dead <= live || dead <= this.minDead) return false;
    try {
      await this.compact();
      return true;
    } catch (err) {
      this.opts.logger?.warn({ err, file: this.opts.path }, `jsonl: compaction of ${this.opts.path} failed`);
      return false;
    }
  }

  /** Rewrites the file from the store's snapshot. */
  async compact(): Promise<void> {
    const before = this.lines;
    await this.rewrite(this.opts.snapshot());
    this.opts.logger?.debug({ file: this.opts.path, before, after: this.lines }, "jsonl: compacted");
  }

  /** Atomically replaces the whole file with `entries` (also used to delete). */
  async rewrite(entries: Iterable<T>): Promise<void> {
    await this.closeHandle();
    const list = [...entries];
    const text = list.map((e) => JSON.stringify(e) + "\n").join("");
    const dir = dirname(this.opts.path);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${basename(this.opts.path)}.${process.pid}.tmp`);
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(text, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.opts.path);
    await syncDir(dir);
    this.lines = list.length;
    this.goodSize = Buffer.byteLength(text, "utf8");
    this.needsTruncate = false;
    this.needsNewline = false;
  }

  async close(): Promise<void> {
    await this.closeHandle();
  }

  private parse(line: string): T | undefined {
    try {
      const entry = JSON.parse(line) as T;
      if (entry === null || typeof entry !== "object") return undefined;
      this.opts.key(entry);
      return entry;
    } catch {
      return undefined;
    }
  }

  private async handle(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    const dir = dirname(this.opts.path);
    mkdirSync(dir, { recursive: true });
    // `r+` (positional writes) does not create: a missing file is created first, and its
    // directory entry synced.
    let fh: FileHandle;
    try {
      fh = await open(this.opts.path, "r+");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await (await open(this.opts.path, "a")).close();
      await syncDir(dir);
      fh = await open(this.opts.path, "r+");
    }
    this.fh = fh;
    return fh;
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
    if (!["EINVAL", "EISDIR", "EPERM"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    await fh.close();
  }
}
