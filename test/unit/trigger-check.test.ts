/** Which scheduled slots the job runner takes (src/jobs/trigger-check.ts): its cron's, when due. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { forgeryOf, MAX_EARLY_MS } from "../../src/jobs/trigger-check.js";

const weekly = { id: "weekly_platform_priority_digest", cron: "0 6 * * 1" };
const now = new Date("2026-12-02T16:00:00Z"); // a Wednesday

test("a slot of the cron that is due is taken, however old", () => {
  assert.is(forgeryOf(weekly, "2026-11-30T06:00:00Z", now), null);
  assert.is(forgeryOf(weekly, "2025-01-06T06:00:00Z", now), null);
  assert.is(forgeryOf({ id: "tick", cron: "*/5 * * * * *" }, "2026-12-02T15:59:55Z", now), null, "6-field crons have second slots");
});

test("made-up slots are forged: another day, another minute, a second or a millisecond off", () => {
  for (const slot of ["2026-12-01T06:00:00Z", "2026-11-30T06:07:00Z", "2026-11-30T06:00:01Z", "2026-11-30T06:00:00.500Z"]) {
    assert.ok(forgeryOf(weekly, slot, now), slot);
  }
  assert.match(forgeryOf(weekly, "2026-12-01T06:00:00Z", now)!, `not a slot of weekly_platform_priority_digest's cron "0 6 * * 1" (UTC)`);
});

test("a real slot is not taken before it is due (beyond the clock-skew allowance)", () => {
  const next = "2026-12-07T06:00:00Z";
  assert.match(forgeryOf(weekly, next, now)!, "not due");
  const atSlot = new Date(new Date(next).getTime() - MAX_EARLY_MS);
  assert.is(forgeryOf(weekly, next, atSlot), null, `up to ${MAX_EARLY_MS / 1000} s early is skew`);
});

test.run();
