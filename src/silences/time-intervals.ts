/**
 * Alertmanager's `time_intervals` (timeinterval/timeinterval.go): `times` (HH:MM, end exclusive,
 * 24:00 allowed), `weekdays`, `days_of_month` (negatives count back from the month's end),
 * `months`, `years`, and an IANA `location` (default UTC). An instant is inside when every field
 * given contains its wall-clock time in that location; a field left out contains every time.
 *
 * Wall-clock time comes from Intl (the zone database Node ships), so DST is the zone's own: on a
 * spring-forward day a range inside the skipped hour contains no instant, and on a fall-back day
 * the repeated hour is inside twice.
 */
import { z } from "zod";

/** Minutes of the day, `[start_minute, end_minute)`. */
export interface TimeRange {
  start_minute: number;
  end_minute: number;
}

/** Both ends included. Days of the month may be negative (-1 = the month's last day). */
export interface InclusiveRange {
  begin: number;
  end: number;
}

export interface TimeInterval {
  times?: TimeRange[];
  /** 0 = Sunday … 6 = Saturday. */
  weekdays?: InclusiveRange[];
  days_of_month?: InclusiveRange[];
  /** 1 = January … 12 = December. */
  months?: InclusiveRange[];
  years?: InclusiveRange[];
  /** An IANA zone name, e.g. `Europe/Berlin`. */
  location: string;
}

const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const INTEGER = /^[+-]?\d{1,6}$/;
const HHMM = /^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;

type Member = (text: string) => number | string;

const weekday: Member = (t) => (WEEKDAYS.includes(t) ? WEEKDAYS.indexOf(t) : `${t} is not a valid weekday`);
const month: Member = (t) => {
  if (MONTHS.includes(t)) return MONTHS.indexOf(t) + 1;
  const n = INTEGER.test(t) ? Number(t) : NaN;
  return n >= 1 && n <= 12 ? n : `${t} is not a valid month`;
};
const integer: Member = (t) => (INTEGER.test(t) ? Number(t) : `${t} is not a valid number`);

/**
 * `"a:b"` or `"a"` (YAML may give a bare number), case-insensitive, as Alertmanager's
 * `stringableRangeFromString`; `check` says why a parsed range is not allowed.
 */
function rangeOf(member: Member, check: (r: InclusiveRange) => string | undefined) {
  return z.union([z.string(), z.number()]).transform((raw, ctx): InclusiveRange => {
    const text = String(raw).trim().toLowerCase();
    const parts = text.split(":");
    const issue = (message: string) => (ctx.addIssue({ code: "custom", message }), z.NEVER);
    if (parts.length > 2) return issue(`couldn't parse range ${text}, invalid format`);
    const [begin, end] = [member(parts[0]!), member(parts[1] ?? parts[0]!)];
    if (typeof begin === "string") return issue(begin);
    if (typeof end === "string") return issue(end);
    const r = { begin, end };
    const why = check(r);
    return why === undefined ? r : issue(why);
  });
}

const WeekdayRange = rangeOf(weekday, (r) => (r.begin > r.end ? "start day cannot be after end day" : undefined));
const MonthRange = rangeOf(month, (r) => (r.begin > r.end ? `end month ${MONTHS[r.end - 1]} is before start month ${MONTHS[r.begin - 1]}` : undefined));
const YearRange = rangeOf(integer, (r) => (r.begin > r.end ? `end year ${r.end} is before start year ${r.begin}` : undefined));

/** Alertmanager's checks: never 0, within ±31, not positive-to-negative, never always empty (28-day months). */
const DayOfMonthRange = rangeOf(integer, ({ begin, end }) => {
  for (const d of [begin, end]) if (d === 0 || d < -31 || d > 31) return `${d} is not a valid day of the month: out of range`;
  if (begin < 0 && end > 0) return "end day must be negative if start day is negative";
  const [b, e] = [begin < 0 ? 28 + begin : begin, end < 0 ? 28 + end : end];
  return b > e ? `end day ${end} is always before start day ${begin}` : undefined;
});

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
const Clock = z.string().regex(HHMM, "a time as HH:MM, 00:00 to 24:00");

const Times = z
  .strictObject({ start_time: Clock, end_time: Clock })
  .transform(({ start_time, end_time }, ctx): TimeRange => {
    const r = { start_minute: minutesOf(start_time), end_minute: minutesOf(end_time) };
    if (r.start_minute < r.end_minute) return r;
    ctx.addIssue({ code: "custom", message: "start time cannot be equal or greater than end time" });
    return z.NEVER;
  });

const zones = new Map<string, Intl.DateTimeFormat>();

/** A formatter giving the wall clock in `zone`; undefined for a zone Intl does not know. */
function formatterFor(zone: string): Intl.DateTimeFormat | undefined {
  let f = zones.get(zone);
  if (f) return f;
  try {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
  } catch {
    return undefined;
  }
  zones.set(zone, f);
  return f;
}

const Location = z
  .string()
  .min(1)
  // Go's "Local" is the host's zone: processes on different hosts would disagree on the window.
  .refine((zone) => zone !== "Local", "Local is the host's zone; name an IANA zone (e.g. Europe/Berlin) or UTC")
  .refine((zone) => zone === "Local" || formatterFor(zone) !== undefined, "an IANA time zone such as Europe/Berlin or UTC");

/** An empty list would contain nothing (Alertmanager's reading): leave the key out to mean "every". */
const list = <T extends z.ZodType>(item: T, what: string) => z.array(item).min(1, `at least one ${what}; leave the key out to mean every ${what}`);

/** One entry of `time_intervals`, as in Alertmanager's YAML, parsed to minutes and numbers. */
export const TimeIntervalSpec = z
  .strictObject({
    times: list(Times, "time range").optional(),
    weekdays: list(WeekdayRange, "weekday").optional(),
    days_of_month: list(DayOfMonthRange, "day of the month").optional(),
    months: list(MonthRange, "month").optional(),
    years: list(YearRange, "year").optional(),
    location: Location.default("UTC"),
  })
  .transform((t): TimeInterval => {
    const out: TimeInterval = { location: t.location };
    if (t.times) out.times = t.times;
    if (t.weekdays) out.weekdays = t.weekdays;
    if (t.days_of_month) out.days_of_month = t.days_of_month;
    if (t.months) out.months = t.months;
    if (t.years) out.years = t.years;
    return out;
  });

export type ParsedTimeInterval = { ok: true; interval: TimeInterval } | { ok: false; reasons: string[] };

/** `raw` (one `time_intervals` entry) parsed, or every reason it is not one (`at <path>: <why>`). */
export function parseTimeInterval(raw: unknown): ParsedTimeInterval {
  const r = TimeIntervalSpec.safeParse(raw);
  if (r.success) return { ok: true, interval: r.data };
  return { ok: false, reasons: r.error.issues.map((i) => `at ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`) };
}

export interface WallClock {
  year: number;
  /** 1–12. */
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** 0 = Sunday. */
  weekday: number;
  daysInMonth: number;
}

const MINUTE_MS = 60_000;
/**
 * The last wall clock computed per zone, by UTC minute: ingest asks for the same minute over and
 * over, and formatToParts is the slow part. (Every zone's offset is whole minutes since 1972.)
 */
const lastByZone = new Map<string, { minute: number; wall: WallClock }>();

function fromParts(year: number, month: number, day: number, hour: number, minute: number): WallClock {
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return { year, month, day, hour, minute, weekday, daysInMonth };
}

/** The wall clock at `at` in `zone` (an IANA name already accepted by TimeIntervalSpec). */
export function wallClock(zone: string, at: Date): WallClock {
  const ms = at.getTime();
  const minute = Math.floor(ms / MINUTE_MS);
  const last = lastByZone.get(zone);
  if (last && last.minute === minute) return last.wall;
  let wall: WallClock;
  if (zone === "UTC") {
    wall = fromParts(at.getUTCFullYear(), at.getUTCMonth() + 1, at.getUTCDate(), at.getUTCHours(), at.getUTCMinutes());
  } else {
    const f = formatterFor(zone);
    if (!f) throw new RangeError(`unknown time zone ${zone}`);
    const p: Record<string, number> = {};
    for (const part of f.formatToParts(at)) if (part.type !== "literal") p[part.type] = Number(part.value);
    wall = fromParts(p.year!, p.month!, p.day!, p.hour!, p.minute!);
  }
  lastByZone.set(zone, { minute, wall });
  return wall;
}

const within = (ranges: readonly InclusiveRange[], n: number) => ranges.some((r) => n >= r.begin && n <= r.end);

/** Alertmanager's day-of-month test: negatives from the month's end, clamped to the month. */
function dayWithin(ranges: readonly InclusiveRange[], w: WallClock): boolean {
  const n = w.daysInMonth;
  return ranges.some((r) => {
    const begin = r.begin < 0 ? n + r.begin + 1 : r.begin;
    const end = r.end < 0 ? n + r.end + 1 : r.end;
    if (begin > n) return false;
    const clamp = (d: number) => Math.min(Math.max(d, -n), n);
    return w.day >= clamp(begin) && w.day <= clamp(end);
  });
}

/** Alertmanager's `ContainsTime`: `at` is inside when every field given holds in the interval's zone. */
export function contains(interval: TimeInterval, at: Date): boolean {
  const w = wallClock(interval.location, at);
  if (interval.times) {
    const m = w.hour * 60 + w.minute;
    if (!interval.times.some((t) => m >= t.start_minute && m < t.end_minute)) return false;
  }
  if (interval.days_of_month && !dayWithin(interval.days_of_month, w)) return false;
  if (interval.months && !within(interval.months, w.month)) return false;
  if (interval.weekdays && !within(interval.weekdays, w.weekday)) return false;
  if (interval.years && !within(interval.years, w.year)) return false;
  return true;
}

/** Inside any of `intervals` (a window's or a route's list, as Alertmanager reads one name's list). */
export function containsAny(intervals: readonly TimeInterval[], at: Date): boolean {
  return intervals.some((t) => contains(t, at));
}
