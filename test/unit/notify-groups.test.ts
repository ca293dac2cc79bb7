/**
 * Alert groups' flush rules (src/notify/groups.ts) on a fake clock, against Alertmanager's
 * dispatcher: group_wait before the first notification (at once for an alert older than that),
 * the group_interval grid and only on change, repeat_interval while nothing changes, resolved
 * alerts listed once then dropped, an emptied group deleted; older observations never win; alerts
 * a silence holds back since they were accepted are left out (Alertmanager's mute stage).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { afterEnqueued, changedSinceTold, flushGroup, groupId, isDue, newGroup, observationOf, withFiring, withResolved, type GroupState, type GroupTiming } from "../../src/notify/groups.js";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const at = (s: number) => new Date(T0 + s * 1000);
const t: GroupTiming = { group_wait_ms: 30_000, group_interval_ms: 300_000, repeat_interval_ms: 4 * 3_600_000 };
const fresh = (s = 0) => newGroup({ id: groupId("0", '{}/{team="db"}:{alertname="X"}'), group_key: '{}/{team="db"}:{alertname="X"}', route_path: "0", receiver: "hook", group_labels: { alertname: "X" } }, t, at(s));
const fire = (g: GroupState, fp: string, s: number, occurrences = 1, startedS = s) =>
  withFiring(g, { alert_ref: `ref-${fp}`, fingerprint: fp, starts_at: at(startedS).toISOString(), obs: observationOf(occurrences, false) }, t, at(s))!;
const resolve = (g: GroupState, fp: string, s: number, occurrences = 1) => withResolved(g, fp, at(s).toISOString(), observationOf(occurrences, true), t, at(s))!;

/** Flushes at `s` and returns the state after (the pending flush confirmed), with what it told. */
function flushAt(g: GroupState, s: number, quiet = false, muted: ReadonlySet<string> = new Set()): { state: GroupState | "deleted"; told?: string[]; status?: string; seq?: number } {
  const out = flushGroup(g, t, at(s), quiet, muted);
  if (out.kind === "delete") return { state: "deleted" };
  if (!out.flush) return { state: out.state };
  const after = afterEnqueued(out.state, out.flush.seq);
  return { state: after === "delete" ? "deleted" : after!, told: out.flush.alerts.map((a) => `${a.fingerprint}:${a.status}`), status: out.flush.status, seq: out.flush.seq };
}
const stateOf = (r: ReturnType<typeof flushAt>): GroupState => {
  assert.ok(r.state !== "deleted", "the group is still there");
  return r.state as GroupState;
};

test("group_wait: three alerts within it make one flush listing all three", () => {
  let g = fire(fresh(0), "a", 0);
  g = fire(g, "b", 10);
  g = fire(g, "c", 20);
  assert.is(g.next_flush_at, at(30).toISOString(), "group_wait after the group began");
  assert.not.ok(isDue(g, at(29)));
  assert.ok(isDue(g, at(30)));
  const r = flushAt(g, 30);
  assert.equal([r.seq, r.status, r.told], [1, "firing", ["a:firing", "b:firing", "c:firing"]]);
  assert.is(stateOf(r).next_flush_at, at(30 + 4 * 3600).toISOString(), "nothing untold: the next look is when repeat_interval is due, on the group_interval grid");
});

test("an alert that started longer than group_wait ago is flushed at once (Alertmanager's insert)", () => {
  const g = fire(fresh(100), "old", 100, 1, 0);
  assert.is(g.next_flush_at, at(100).toISOString());
});

test("group_interval: a change after a flush waits for the next grid point; no change, no notification", () => {
  let g = stateOf(flushAt(fire(fresh(0), "a", 0), 30));
  g = fire(g, "d", 40);
  assert.is(g.next_flush_at, at(330).toISOString(), "the next group_interval tick after the flush");
  assert.not.ok(isDue(g, at(329)));
  const r = flushAt(g, 330);
  assert.equal([r.seq, r.told], [2, ["a:firing", "d:firing"]]);
  // A re-sent firing (a duplicate's higher occurrence) changes nothing the receiver was told.
  const again = fire(stateOf(r), "a", 400, 2);
  assert.not.ok(changedSinceTold(again));
  assert.equal(flushAt({ ...again, next_flush_at: at(630).toISOString() }, 630).seq, undefined, "a flush with nothing new tells nobody");
});

test("a change late after a quiet spell goes out on the grid, not group_interval after the change", () => {
  const g = stateOf(flushAt(fire(fresh(0), "a", 0), 30));
  const later = fire(g, "b", 30 + 3 * 300 + 10);
  assert.is(later.next_flush_at, at(30 + 4 * 300).toISOString());
});

test("repeat_interval: nothing changed and still firing → the same alerts again, once it has passed", () => {
  const g = stateOf(flushAt(fire(fresh(0), "a", 0), 30));
  const early = flushAt(g, 30 + 4 * 3600 - 300);
  assert.is(early.seq, undefined, "not before repeat_interval");
  const due = flushAt(g, 30 + 4 * 3600);
  assert.equal([due.seq, due.told], [2, ["a:firing"]]);
});

test("resolved alerts are listed once in the next flush, then dropped; all resolved → one resolved notification, then the group is deleted", () => {
  let g = stateOf(flushAt(fire(fire(fresh(0), "a", 0), "b", 1), 30));
  g = resolve(g, "a", 100);
  assert.is(g.next_flush_at, at(330).toISOString(), "a resolve is a change");
  const r = flushAt(g, 330);
  assert.equal([r.seq, r.status, r.told], [2, "firing", ["b:firing", "a:resolved"]]);
  g = stateOf(r);
  assert.equal(Object.keys(g.alerts), ["b"], "the resolved alert is dropped after the flush that told it");
  g = resolve(g, "b", 400);
  const last = flushAt(g, 630);
  assert.equal([last.seq, last.status, last.told, last.state], [3, "resolved", ["b:resolved"], "deleted"]);
});

test("alerts that fire and resolve before the first flush tell nobody, and the group goes", () => {
  const g = resolve(fire(fresh(0), "a", 0), "a", 10);
  assert.equal(flushAt(g, 30), { state: "deleted" });
});

test("a quiet flush (muted route, receiver off) tells nothing and keeps the change for the next tick", () => {
  const g = fire(fresh(0), "a", 0);
  const r = flushAt(g, 30, true);
  assert.is(r.seq, undefined);
  assert.is(stateOf(r).next_flush_at, at(330).toISOString());
  assert.equal(flushAt(stateOf(r), 330).told, ["a:firing"]);
});

test("an older observation never overwrites a newer one; a refire after a resolve is a change", () => {
  let g = fire(fresh(0), "a", 0, 3);
  assert.is(withResolved(g, "a", at(5).toISOString(), observationOf(2, true), t, at(5)), undefined, "a resolve of an earlier occurrence");
  assert.is(withFiring(g, { alert_ref: "ref-a", fingerprint: "a", starts_at: at(0).toISOString(), obs: observationOf(3, false) }, t, at(6)), undefined, "the same firing again");
  g = resolve(stateOf(flushAt(g, 30)), "a", 40, 3);
  assert.is(g.alerts.a!.status, "resolved");
  const refired = fire(resolve(stateOf(flushAt(fire(fresh(0), "x", 0), 30)), "x", 40), "x", 50, 2);
  assert.equal([refired.alerts.x!.status, changedSinceTold(refired)], ["firing", false], "firing again before the flush: the receiver still believes it fires");
});

test("group ids: stable per route path and group key, distinct otherwise, KV- and key-safe", () => {
  const a = groupId("0", '{}:{a="1"}');
  assert.is(a, groupId("0", '{}:{a="1"}'));
  assert.is.not(a, groupId("1", '{}:{a="1"}'));
  assert.match(a, /^grp-[0-9a-f]{24}$/);
});


test("muted alerts (silenced since they were told) are left out: no repeat while all are, the others told alone, told again once released", () => {
  const repeat = t.repeat_interval_ms / 1000;
  let g = stateOf(flushAt(fire(fire(fresh(0), "a", 0), "b", 0), 30));
  const a = new Set(["a"]);
  const both = new Set(["a", "b"]);
  // Every alert silenced: the repeat is not sent, and the group keeps both.
  const quiet = flushAt({ ...g, next_flush_at: at(30 + repeat).toISOString() }, 30 + repeat, false, both);
  assert.is(quiet.seq, undefined, "nothing to tell");
  g = stateOf(quiet);
  assert.equal(Object.keys(g.alerts).sort(), ["a", "b"], "muted alerts stay in the group");
  // One silenced: the repeat tells the other one alone.
  const one = flushAt({ ...g, next_flush_at: at(60 + repeat).toISOString() }, 60 + repeat, false, a);
  assert.equal([one.seq, one.told], [2, ["b:firing"]]);
  g = stateOf(one);
  // Released: the receiver was not told it fires any more, so it is a change, told at the next look.
  assert.ok(changedSinceTold(g));
  const back = flushAt({ ...g, next_flush_at: at(360 + repeat).toISOString() }, 360 + repeat);
  assert.equal([back.seq, back.told], [3, ["a:firing", "b:firing"]]);
  // A muted alert that resolves is told resolved (the silence holds back firings).
  g = resolve(stateOf(back), "a", 400 + repeat);
  const resolved = flushAt({ ...g, next_flush_at: at(660 + repeat).toISOString() }, 660 + repeat, false, both);
  assert.equal([resolved.seq, resolved.status, resolved.told], [4, "resolved", ["a:resolved"]]);
});

test.run();
