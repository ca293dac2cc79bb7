import { randomBytes } from "node:crypto";

function stamp(d: Date, withSeconds: boolean): string {
  const iso = d.toISOString(); // 2026-11-22T04:41:56.123Z
  const date = iso.slice(0, 10).replaceAll("-", "");
  const time = iso.slice(11, withSeconds ? 19 : 16).replaceAll(":", "");
  return `${date}_${time}`;
}

/** `alrt_20261122_044156_9f3a1c2b` */
export function newAlertRef(now: Date = new Date()): string {
  return `alrt_${stamp(now, true)}_${randomBytes(4).toString("hex")}`;
}

/** `inc_20261122_0441_9f3a1c` */
export function newIncidentId(now: Date = new Date()): string {
  return `inc_${stamp(now, false)}_${randomBytes(3).toString("hex")}`;
}

export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(6).toString("hex")}`;
}
