/** Reads a request body without ever holding more than a bound of it. */
import type { IncomingMessage } from "node:http";

/** Past this much discarded input the connection is dropped instead of drained. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

export interface BoundedBody {
  /** The body, or its first `maxBytes + 1` bytes when it was longer. */
  bytes: Buffer;
  /** True when the body was longer than `maxBytes` (the rest was read and discarded). */
  truncated: boolean;
}

/**
 * Buffers up to `maxBytes + 1` bytes; anything beyond is drained and dropped so the client still
 * reads a proper reply. A declared Content-Length over the bound skips buffering altogether.
 */
export function readBounded(req: IncomingMessage, maxBytes: number): Promise<BoundedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let seen = 0;
    const declared = Number(req.headers["content-length"] ?? NaN);
    let truncated = Number.isFinite(declared) && declared > maxBytes;
    req.on("data", (chunk: Buffer) => {
      seen += chunk.length;
      if (seen - kept > MAX_DISCARD_BYTES) {
        req.destroy(new Error("request body far over the limit"));
        return;
      }
      if (kept > maxBytes) return;
      const room = maxBytes + 1 - kept;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      kept += part.length;
      if (kept > maxBytes) truncated = true;
    });
    req.on("end", () => resolve({ bytes: Buffer.concat(chunks), truncated }));
    req.on("error", reject);
  });
}
