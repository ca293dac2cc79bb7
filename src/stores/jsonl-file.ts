/** File plumbing under JsonlLog: chunked reads, complete writes, a durable rename. */
import { open, type FileHandle } from "node:fs/promises";

/** Bytes read at a time on load. */
const READ_CHUNK_BYTES = 1 << 20;

/** The file's bytes a chunk at a time (one reused buffer: copy what must outlive the next chunk); nothing when the file does not exist. */
export async function* readChunks(path: string): AsyncGenerator<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Writes all of `data` at the handle's current position (a write may take only part of it). */
export async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += (await fh.write(data, offset, data.length - offset)).bytesWritten;
}

/** Makes a rename in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
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
