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
import { open, rename, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../log.js";
import { readChunks, syncDir, writeAll } from "./jsonl-file.js";

/** About this many characters of lines are serialised before each write of a rewrite. */
const WRITE_CHUNK_CHARS = 1 << 20;

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

  /**
   * Reads the file; returns the latest entry per key, in order of first appearance. The file is
   * read in chunks and parsed a line at a time, so a load holds the entries and one chunk, never
   * the whole file as one buffer and string beside them.
   */
  async load(): Promise<T[]> {
    mkdirSync(dirname(this.opts.path), { recursive: true });
    const latest = new Map<string, T>();
    this.lines = 0;
    this.corrupt = 0;
    let lineNo = 0;
    /** Bytes up to and including the last newline read. */
    let end = 0;
    /** The bytes after the last newline so far: a line that continues in the next chunk. */
    let partial: Buffer[] = [];
    for await (const chunk of readChunks(this.opts.path)) {
      let from = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
        const piece = chunk.subarray(from, nl);
        const line = partial.length ? Buffer.concat([...partial, piece]) : piece;
        partial = [];
        end += line.length + 1;
        lineNo++;
        this.take(line.toString("utf8"), lineNo, latest);
        from = nl + 1;
      }
      // The chunk's buffer is reused by the next read: keep a copy of the unfinished line.
      if (from < chunk.length) partial.push(Buffer.from(chunk.subarray(from)));
    }
    this.goodSize = end;
    this.needsTruncate = false;
    this.needsNewline = false;
    const tailBytes = Buffer.concat(partial);
    const tail = tailBytes.toString("utf8");
    if (tail.trim() !== "") {
      const entry = this.parse(tail);
      if (entry === undefined) {
        this.needsTruncate = true;
        this.opts.logger?.warn({ file: this.opts.path, bytes: tailBytes.length }, `jsonl: ignoring torn last line of ${this.opts.path}`);
      } else {
        // A complete record that only lacks its newline (e.g. written by hand): keep it.
        this.lines++;
        latest.set(this.opts.key(entry), entry);
        this.goodSize = end + tailBytes.length;
        this.needsNewline = true;
      }
    } else if (tailBytes.length > 0) {
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

  /**
   * Atomically replaces the whole file with `entries` (also used to delete). Written in chunks of
   * about WRITE_CHUNK_CHARS as the entries are serialised, so a rewrite never holds the whole file
   * as one string. Runs inside the store's exclusive section, so the state does not change under it.
   */
  async rewrite(entries: Iterable<T>): Promise<void> {
    await this.closeHandle();
    const dir = dirname(this.opts.path);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${basename(this.opts.path)}.${process.pid}.tmp`);
    const fh = await open(tmp, "w");
    let lines = 0;
    let bytes = 0;
    try {
      let chunk: string[] = [];
      let chunkChars = 0;
      const flush = async () => {
        const data = Buffer.from(chunk.join(""), "utf8");
        chunk = [];
        chunkChars = 0;
        await writeAll(fh, data);
        bytes += data.length;
      };
      for (const entry of entries) {
        const line = JSON.stringify(entry) + "\n";
        chunk.push(line);
        chunkChars += line.length;
        lines++;
        if (chunkChars >= WRITE_CHUNK_CHARS) await flush();
      }
      if (chunk.length) await flush();
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.opts.path);
    await syncDir(dir);
    this.lines = lines;
    this.goodSize = bytes;
    this.needsTruncate = false;
    this.needsNewline = false;
  }

  async close(): Promise<void> {
    await this.closeHandle();
  }

  /** One complete line of the file (1-based `lineNo`): counted and kept, or skipped as corrupt. */
  private take(line: string, lineNo: number, latest: Map<string, T>): void {
    if (line.trim() === "") return;
    const entry = this.parse(line);
    if (entry === undefined) {
      this.corrupt++;
      this.opts.logger?.warn({ file: this.opts.path, line: lineNo }, `jsonl: skipped corrupt line ${lineNo} of ${this.opts.path}`);
      return;
    }
    this.lines++;
    latest.set(this.opts.key(entry), entry);
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
