/**
 * ISO 8601 weeks (UTC): weeks start on Monday and week 1 is the week with the year's first
 * Thursday, so 2027-01-01 (a Friday) is in 2026-W53. Labels are `YYYY-WW` (the digest file names);
 * `YYYY-Www` is accepted on input.
 */
import { invalid } from "../errors.js";

const DAY_MS = 86_400_000;

export interface IsoWeek {
  year: number;
  week: number;
}

/** Midnight UTC of the day `d` falls on. */
function utcMidnight(d: Date): number {
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** 1 = Monday … 7 = Sunday. */
function isoWeekday(ms: number): number {
  return ((new Date(ms).getUTCDay() + 6) % 7) + 1;
}

export function isoWeekOf(d: Date): IsoWeek {
  const day = utcMidnight(d);
  // The Thursday of this week decides the year.
  const thursday = day + (4 - isoWeekday(day)) * DAY_MS;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return { year, week };
}

/** Monday 00:00 UTC of week 1 of `year`. */
function week1Monday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4); // always in week 1
  return jan4 - (isoWeekday(jan4) - 1) * DAY_MS;
}

/** 52 or 53. */
export function weeksInIsoYear(year: number): number {
  return isoWeekOf(new Date(Date.UTC(year, 11, 28))).week; // Dec 28 is always in the last week
}

/** `[from, to)`: Monday 00:00 UTC to the next Monday 00:00 UTC. */
export function isoWeekRange(w: IsoWeek): { from: Date; to: Date } {
  const from = week1Monday(w.year) + (w.week - 1) * 7 * DAY_MS;
  return { from: new Date(from), to: new Date(from + 7 * DAY_MS) };
}

export function formatIsoWeek(w: IsoWeek): string {
  return `${String(w.year).padStart(4, "0")}-${String(w.week).padStart(2, "0")}`;
}

/** `2026-09` or `2026-W09`; a week the year does not have is refused. */
export function parseIsoWeek(label: string): IsoWeek {
  const m = /^(\d{4})-W?(\d{2})$/.exec(label);
  if (!m) throw invalid(`week must be YYYY-WW (ISO week), got "${label}"`);
  const w = { year: Number(m[1]), week: Number(m[2]) };
  if (w.week < 1 || w.week > weeksInIsoYear(w.year)) {
    throw invalid(`week ${label}: ${w.year} has ISO weeks 01-${weeksInIsoYear(w.year)}`);
  }
  return w;
}

/** The newest ISO week that has ended by `now` (the week before the current one). */
export function lastCompleteIsoWeek(now: Date): IsoWeek {
  return isoWeekOf(new Date(utcMidnight(now) - 7 * DAY_MS));
}
