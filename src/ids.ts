import { randomFillSync } from "node:crypto";

/**
 * Random bytes drawn 4 KiB at a time, as randomUUID keeps its own: a randomBytes call per id cost
 * a few microseconds (a buffer and a trip into OpenSSL each), on every new alert's ref among them.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString("hex", poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

function stamp(d: Date, withSeconds: boolean): string {
  const iso = d.toISOString(); // 2026-11-22T04:41:56.123Z
  const date = iso.slice(0, 10).replaceAll("-", "");
  const time = iso.slice(11, withSeconds ? 19 : 16).replaceAll(":", "");
  return `${date}_${time}`;
}

/** The last alert-ref stamp: an ingest batch names all its new alerts at one `now`. */
let refStamp = { ms: Number.NaN, text: "" };

/** `alrt_20261122_044156_9f3a1c2b` */
export function newAlertRef(now: Date = new Date()): string {
  if (now.getTime() !== refStamp.ms) refStamp = { ms: now.getTime(), text: stamp(now, true) };
  return `alrt_${refStamp.text}_${randomHex(4)}`;
}

/** `inc_20261122_0441_9f3a1c` */
export function newIncidentId(now: Date = new Date()): string {
  return `inc_${stamp(now, false)}_${randomHex(3)}`;
}

export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomHex(6)}`;
}
