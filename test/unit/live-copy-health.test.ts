import { test } from "uvu";
import * as assert from "uvu/assert";
import { LiveCopyWatch } from "../../src/observability/live-copy-health.js";
import type { LiveCopyState } from "../../src/silences/store.js";

function watchOf(states: Array<LiveCopyState | Error>) {
  let i = 0;
  return new LiveCopyWatch("silences", async () => {
    const s = states[Math.min(i++, states.length - 1)]!;
    if (s instanceof Error) throw s;
    return s;
  }, 5000);
}

test("a copy that follows is no problem; behind for less than the grace is not either", async () => {
  const w = watchOf([{ applied: 7, stored: 7, watching: true }, { applied: 7, stored: 8, watching: true }, { applied: 7, stored: 8, watching: true }]);
  assert.is(await w.problem(0), undefined);
  assert.is(await w.problem(1000), undefined, "a write elsewhere is on its way");
  assert.is(await w.problem(5999), undefined, "4.999 s behind");
});

test("behind past the grace is a problem naming how far; catching up clears it and restarts the clock", async () => {
  const w = watchOf([{ applied: 7, stored: 9, watching: true }, { applied: 7, stored: 9, watching: true }, { applied: 9, stored: 9, watching: true }, { applied: 9, stored: 10, watching: true }]);
  assert.is(await w.problem(0), undefined);
  assert.match((await w.problem(6000)) ?? "", /silences: the live copy is 2 revision\(s\) behind the bucket for 6 s/);
  assert.is(await w.problem(7000), undefined, "caught up");
  assert.is(await w.problem(8000), undefined, "a new lag starts its own grace");
});

test("a watch that is down is a problem after the grace even when nothing changed; an unreadable bucket at once", async () => {
  const w = watchOf([{ applied: 4, stored: 4, watching: false }, { applied: 4, stored: 4, watching: false }, new Error("no responders")]);
  assert.is(await w.problem(0), undefined);
  assert.match((await w.problem(5000)) ?? "", /watch is down for 5 s \(applied up to revision 4 of 4\)/);
  assert.match((await w.problem(5100)) ?? "", /cannot be compared with the bucket: no responders/);
});

test.run();
