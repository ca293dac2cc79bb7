import { test } from "uvu";
import * as assert from "uvu/assert";
import { OpsError } from "../../src/errors.js";
import { formatIsoWeek, isoWeekOf, isoWeekRange, lastCompleteIsoWeek, parseIsoWeek, weeksInIsoYear } from "../../src/util/iso-week.js";

const label = (iso: string) => formatIsoWeek(isoWeekOf(new Date(iso)));

test("year boundaries follow ISO 8601 (the week of the first Thursday is W01)", () => {
  assert.is(label("2026-01-01T00:00:00Z"), "2026-01"); // Thursday
  assert.is(label("2025-12-29T00:00:00Z"), "2026-01"); // Monday of 2026-W01
  assert.is(label("2025-12-28T23:59:59Z"), "2025-52"); // Sunday before it
  assert.is(label("2027-01-01T12:00:00Z"), "2026-53"); // Friday
  assert.is(label("2027-01-03T23:59:59.999Z"), "2026-53"); // Sunday
  assert.is(label("2027-01-04T00:00:00Z"), "2027-01"); // Monday
  assert.is(label("2021-01-03T10:00:00Z"), "2020-53");
  assert.is(label("2024-12-30T00:00:00Z"), "2025-01");
  assert.is(label("2010-01-03T00:00:00Z"), "2009-53");
  assert.is(label("2026-03-02T08:00:00Z"), "2026-10");
});

test("weeks per year", () => {
  assert.equal([2015, 2020, 2025, 2026, 2027, 2032].map(weeksInIsoYear), [53, 53, 52, 53, 52, 53]);
});

test("ranges are Monday 00:00 UTC to the next Monday", () => {
  const w1 = isoWeekRange({ year: 2026, week: 1 });
  assert.equal([w1.from.toISOString(), w1.to.toISOString()], ["2025-12-29T00:00:00.000Z", "2026-01-05T00:00:00.000Z"]);
  const w53 = isoWeekRange({ year: 2026, week: 53 });
  assert.equal([w53.from.toISOString(), w53.to.toISOString()], ["2026-12-28T00:00:00.000Z", "2027-01-04T00:00:00.000Z"]);
});

test("every day 2000–2040 falls in the range of its own week, weeks are contiguous", () => {
  let prev: string | undefined;
  for (let ms = Date.UTC(2000, 0, 1); ms < Date.UTC(2041, 0, 1); ms += 86_400_000) {
    const d = new Date(ms + 13 * 3_600_000);
    const w = isoWeekOf(d);
    const r = isoWeekRange(w);
    assert.ok(r.from.getTime() <= d.getTime() && d.getTime() < r.to.getTime(), d.toISOString());
    assert.is(r.from.getUTCDay(), 1);
    assert.ok(w.week >= 1 && w.week <= weeksInIsoYear(w.year));
    const l = formatIsoWeek(w);
    if (prev !== undefined && l !== prev) assert.is(isoWeekRange(parseIsoWeek(prev)).to.getTime(), r.from.getTime());
    prev = l;
  }
});

test("parse accepts YYYY-WW and YYYY-Www, refuses weeks the year does not have", () => {
  assert.equal(parseIsoWeek("2026-09"), { year: 2026, week: 9 });
  assert.equal(parseIsoWeek("2026-W53"), { year: 2026, week: 53 });
  for (const bad of ["2025-53", "2026-00", "26-01", "2026-9", "2026W09", ""]) {
    try {
      parseIsoWeek(bad);
      assert.unreachable(bad);
    } catch (err) {
      assert.instance(err, OpsError);
      assert.is((err as OpsError).code, "invalid_request");
    }
  }
});

test("the last complete week is the one before the current week", () => {
  assert.is(formatIsoWeek(lastCompleteIsoWeek(new Date("2026-03-02T08:00:00Z"))), "2026-09"); // Monday
  assert.is(formatIsoWeek(lastCompleteIsoWeek(new Date("2026-03-01T23:59:00Z"))), "2026-08"); // Sunday
  assert.is(formatIsoWeek(lastCompleteIsoWeek(new Date("2027-01-05T00:00:00Z"))), "2026-53");
  assert.is(formatIsoWeek(lastCompleteIsoWeek(new Date("2026-01-07T00:00:00Z"))), "2026-01");
});

test.run();
