import { randomFillSync } from "node:crypto";

/**
 * `evt_<time base36><12 hex>`, like ids.ts' newId but drawing its random bytes from a pooled
 * buffer: the bridge writes an event per alert, and one getrandom call each showed in profiles.
 */
const pool = Buffer.alloc(6 * 1024);
let offset = pool.length;

export function newEventId(): string {
  if (offset + 6 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString("hex", offset, offset + 6);
  offset += 6;
  return `evt_${Date.now().toString(36)}${hex}`;
}
