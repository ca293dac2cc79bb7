/** Cron slots in UTC: the scheduled times triggers are named after, and the periods `requires` checks. */
import { Cron } from "croner";
import type { TaskRequirement } from "../config/jobs-policy.js";

/** How many slots a catch-up scan looks at, at most (a per-second cron over a 6 h window). */
const MAX_SCAN = 50_000;

export function cronOf(expr: string): Cron {
  return new Cron(expr, { timezone: "UTC", paused: true });
}

/** The first slot strictly after `after`, or null when the cron has no more. */
export function nextSlot(cron: Cron, after: Date): Date | null {
  return cron.nextRun(after);
}

/** The latest slot in (now - windowMs, now], or null: what a scheduler starting at `now` catches up. */
export function latestSlotWithin(cron: Cron, now: Date, windowMs: number): Date | null {
  if (windowMs <= 0) return null;
  let cursor: Date | null = new Date(now.getTime() - windowMs);
  let latest: Date | null = null;
  for (let i = 0; i < MAX_SCAN; i++) {
    cursor = cron.nextRun(cursor!);
    if (!cursor || cursor.getTime() > now.getTime()) break;
    latest = cursor;
  }
  return latest;
}

const DAY_MS = 86_400_000;

/** [start, end) of the UTC period around `slot` that a requirement's success must fall in. */
export function periodOf(slot: Date, within: TaskRequirement["within"]): { start: Date; end: Date } {
  const t = slot.getTime();
  switch (within) {
    case "utc_hour": {
      const start = Math.floor(t / 3_600_000) * 3_600_000;
      return { start: new Date(start), end: new Date(start + 3_600_000) };
    }
    case "utc_day": {
      const start = Math.floor(t / DAY_MS) * DAY_MS;
      return { start: new Date(start), end: new Date(start + DAY_MS) };
    }
    case "iso_week": {
      const day = Math.floor(t / DAY_MS) * DAY_MS;
      const monday = day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS;
      return { start: new Date(monday), end: new Date(monday + 7 * DAY_MS) };
    }
  }
}
