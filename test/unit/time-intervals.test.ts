/** Alertmanager time_intervals: parsing with reasons, and containment in a zone, across DST. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { contains, parseTimeInterval, type TimeInterval } from "../../src/silences/time-intervals.js";

function interval(raw: unknown): TimeInterval {
  const r = parseTimeInterval(raw);
  if (!r.ok) throw new Error(r.reasons.join("; "));
  return r.interval;
}

/** Minutes inside `ti` from `fromIso` (inclusive) to `toIso` (exclusive), stepping one minute. */
function minutesInside(ti: TimeInterval, fromIso: string, toIso: string): number {
  let n = 0;
  for (let t = Date.parse(fromIso); t < Date.parse(toIso); t += 60_000) if (contains(ti, new Date(t))) n++;
  return n;
}

const inside = (ti: TimeInterval, iso: string) => contains(ti, new Date(iso));

test("Alertmanager's forms parse: names any case, numbers, ranges, single values; location defaults to UTC", () => {
  assert.equal(
    interval({
      times: [{ start_time: "09:00", end_time: "17:30" }, { start_time: "22:00", end_time: "24:00" }],
      weekdays: ["Monday:friday", "saturday"],
      days_of_month: ["1:5", "-3:-1", 15],
      months: ["january:march", "10:12"],
      years: ["2020:2022", 2026],
    }),
    {
      location: "UTC",
      times: [{ start_minute: 540, end_minute: 1050 }, { start_minute: 1320, end_minute: 1440 }],
      weekdays: [{ begin: 1, end: 5 }, { begin: 6, end: 6 }],
      days_of_month: [{ begin: 1, end: 5 }, { begin: -3, end: -1 }, { begin: 15, end: 15 }],
      months: [{ begin: 1, end: 3 }, { begin: 10, end: 12 }],
      years: [{ begin: 2020, end: 2022 }, { begin: 2026, end: 2026 }],
    },
  );
});

test("refusals come back as reasons with their path, all at once", () => {
  const r = parseTimeInterval({
    times: [{ start_time: "17:00", end_time: "09:00" }, { start_time: "9:00", end_time: "24:01" }],
    weekdays: ["friday:monday", "funday"],
    days_of_month: [0, "-3:5", "20:-20", "32"],
    months: ["13", "march:january"],
    years: ["2022:2020"],
    location: "Mars/Olympus_Mons",
    hours: ["1"],
  });
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.equal(r.reasons, [
    "at times.0: start time cannot be equal or greater than end time",
    "at times.1.start_time: a time as HH:MM, 00:00 to 24:00",
    "at times.1.end_time: a time as HH:MM, 00:00 to 24:00",
    "at weekdays.0: start day cannot be after end day",
    "at weekdays.1: funday is not a valid weekday",
    "at days_of_month.0: 0 is not a valid day of the month: out of range",
    "at days_of_month.1: end day must be negative if start day is negative",
    "at days_of_month.2: end day -20 is always before start day 20",
    "at days_of_month.3: 32 is not a valid day of the month: out of range",
    "at months.0: 13 is not a valid month",
    "at months.1: end month january is before start month march",
    "at years.0: end year 2020 is before start year 2022",
    "at location: an IANA time zone such as Europe/Berlin or UTC",
    'at (root): Unrecognized key: "hours"',
  ]);
  const local = parseTimeInterval({ location: "Local" });
  assert.equal(local.ok ? [] : local.reasons, ["at location: Local is the host's zone; name an IANA zone (e.g. Europe/Berlin) or UTC"]);
  const empty = parseTimeInterval({ weekdays: [] });
  assert.equal(empty.ok ? [] : empty.reasons, ["at weekdays: at least one weekday; leave the key out to mean every weekday"]);
});

test("times: start inclusive, end exclusive, 24:00 is the end of the day; no fields means always", () => {
  const ti = interval({ times: [{ start_time: "09:00", end_time: "17:00" }, { start_time: "23:00", end_time: "24:00" }] });
  assert.equal(
    ["08:59", "09:00", "16:59", "17:00", "23:00", "23:59"].map((hm) => inside(ti, `2026-05-04T${hm}:59.999Z`)),
    [false, true, true, false, true, true],
  );
  assert.not.ok(inside(ti, "2026-05-05T00:00:00Z"));
  assert.ok(inside(interval({}), "1999-12-31T23:59:59Z"));
});

test("weekdays, months and years are read in the interval's zone", () => {
  const monday = interval({ weekdays: ["monday"], location: "Europe/Berlin" });
  // Sunday 23:30 UTC is Monday 01:30 in Berlin (CEST).
  assert.ok(inside(monday, "2026-05-03T23:30:00Z"));
  assert.not.ok(inside(monday, "2026-05-03T21:30:00Z"));
  const newYear = interval({ months: ["january"], years: [2027], location: "Asia/Tokyo" });
  assert.ok(inside(newYear, "2026-12-31T15:00:00Z"), "already January 2027 in Tokyo");
  assert.not.ok(inside(newYear, "2026-12-31T14:59:00Z"));
  const numeric = interval({ months: ["1:3"] });
  assert.equal([inside(numeric, "2026-03-31T23:59:00Z"), inside(numeric, "2026-04-01T00:00:00Z")], [true, false]);
});

test("Europe/Berlin spring forward (2026-03-29): 02:00-03:00 never happens, 01:00-04:00 lasts two hours", () => {
  const skipped = interval({ times: [{ start_time: "02:00", end_time: "03:00" }], location: "Europe/Berlin" });
  assert.is(minutesInside(skipped, "2026-03-28T22:00:00Z", "2026-03-29T22:00:00Z"), 0);
  // The day before and after have it, an hour each.
  assert.is(minutesInside(skipped, "2026-03-27T22:00:00Z", "2026-03-28T22:00:00Z"), 60);
  assert.is(minutesInside(skipped, "2026-03-29T22:00:00Z", "2026-03-30T22:00:00Z"), 60);
  const across = interval({ times: [{ start_time: "01:00", end_time: "04:00" }], location: "Europe/Berlin" });
  assert.is(minutesInside(across, "2026-03-28T22:00:00Z", "2026-03-29T22:00:00Z"), 120);
  assert.ok(inside(across, "2026-03-29T00:59:00Z"), "01:59 CET");
  assert.ok(inside(across, "2026-03-29T01:00:00Z"), "03:00 CEST, the next minute");
  assert.not.ok(inside(across, "2026-03-29T02:00:00Z"), "04:00 CEST");
  // The whole local day is 23 hours long.
  const day = interval({ days_of_month: [29], months: ["march"], location: "Europe/Berlin" });
  assert.is(minutesInside(day, "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z"), 23 * 60);
});

test("Europe/Berlin fall back (2026-10-25): 02:00-03:00 happens twice, the local day lasts 25 hours", () => {
  const twice = interval({ times: [{ start_time: "02:00", end_time: "03:00" }], location: "Europe/Berlin" });
  assert.is(minutesInside(twice, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"), 120);
  assert.ok(inside(twice, "2026-10-25T00:00:00Z"), "02:00 CEST");
  assert.ok(inside(twice, "2026-10-25T01:59:00Z"), "02:59 CET");
  assert.not.ok(inside(twice, "2026-10-25T02:00:00Z"), "03:00 CET");
  assert.not.ok(inside(twice, "2026-10-24T23:59:00Z"), "01:59 CEST");
  const day = interval({ days_of_month: [25], months: ["october"], location: "Europe/Berlin" });
  assert.is(minutesInside(day, "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z"), 25 * 60);
});

test("days_of_month: negatives count from the month's end; out-of-month days are clamped as Alertmanager does", () => {
  const lastThree = interval({ days_of_month: ["-3:-1"] });
  const days = (ti: TimeInterval, month: string, n: number) =>
    Array.from({ length: n }, (_, i) => i + 1).filter((d) => inside(ti, `${month}-${String(d).padStart(2, "0")}T12:00:00Z`));
  assert.equal(days(lastThree, "2026-02", 28), [26, 27, 28]);
  assert.equal(days(lastThree, "2028-02", 29), [27, 28, 29]);
  assert.equal(days(lastThree, "2026-01", 31), [29, 30, 31]);
  assert.equal(days(lastThree, "2026-04", 30), [28, 29, 30]);
  // A range starting past the month's end is skipped, not clamped to its last day.
  assert.equal(days(interval({ days_of_month: ["30:31"] }), "2026-02", 28), []);
  // One ending past it is cut at the end; one starting before the month's start begins on day 1.
  assert.equal(days(interval({ days_of_month: ["28:31"] }), "2026-02", 28), [28]);
  assert.equal(days(interval({ days_of_month: ["-31:-27"] }), "2026-02", 28), [1, 2]);
  assert.equal(days(interval({ days_of_month: ["1:-1"] }), "2026-02", 28).length, 28);
});

test.run();
