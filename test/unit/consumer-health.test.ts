/** Consumer and audit-writer health verdicts on a test clock: missing, stalled, moving, idle. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AuditWatch, type AuditStats } from "../../src/observability/metrics/audit-health.js";
import { judge, looksMissing, StallTracker, type ConsumerSample } from "../../src/observability/metrics/consumer-health.js";

const STALL_MS = 60_000;
const sample = (over: Partial<ConsumerSample> = {}): ConsumerSample => ({
  stream: "OPS_ALERTS",
  consumer: "alerts-ingest",
  role: "alerts-in",
  pending: 0,
  ack_pending: 0,
  redelivered: 0,
  waiting: 1,
  push_bound: false,
  ack_floor: 10,
  delivered: 10,
  ...over,
});

test("missing: work waits, nobody holds or asks for it; a held or pulled consumer is not missing", () => {
  assert.ok(looksMissing(sample({ pending: 3, waiting: 0 })));
  assert.not.ok(looksMissing(sample({ pending: 3, waiting: 1 })), "a pull request waits");
  assert.not.ok(looksMissing(sample({ pending: 3, waiting: 0, ack_pending: 2 })), "someone holds work (a stall if it never moves)");
  assert.not.ok(looksMissing(sample({ pending: 3, waiting: 0, push_bound: true })));
  assert.not.ok(looksMissing(sample({ pending: 0, waiting: 0 })), "nothing waits: idle, not missing");
  const v = judge(sample({ pending: 3, waiting: 0 }), { missing: true, stuckMs: 0, stallMs: STALL_MS });
  assert.equal([v.state, v.reason], ["missing", "alerts-ingest: 3 pending, no active pull (no alerts-in worker is pulling)"]);
});

test("stalled: the ack floor and deliveries stand still for the window while work waits", () => {
  const t = new StallTracker();
  let now = 1_000_000;
  const held = sample({ pending: 5, ack_pending: 2, waiting: 0 });
  assert.is(t.observe(held, now), 0);
  now += STALL_MS - 1;
  assert.is(judge(held, { missing: false, stuckMs: t.observe(held, now), stallMs: STALL_MS }).state, "ok");
  now += 1;
  const v = judge(held, { missing: false, stuckMs: t.observe(held, now), stallMs: STALL_MS });
  assert.is(v.state, "stalled");
  assert.match(v.reason!, /^alerts-ingest: stalled for 60s \(ack floor 10, 5 pending, 2 held, no active pull; check the alerts-in workers/);
});

test("a burst being worked on is never stalled: the floor or the delivered sequence moves", () => {
  const t = new StallTracker();
  let now = 0;
  for (let i = 0; i < 100; i++) {
    now += 10_000;
    // Deliveries run ahead while one old message holds the floor; then the floor catches up.
    const s = sample({ pending: 50, ack_pending: 10, ack_floor: 100 + Math.floor(i / 3), delivered: 200 + i });
    assert.is(t.observe(s, now), 0, `step ${i}`);
  }
});

test("a claim held within its lock, or a delayed retry, with nothing else waiting is not a stall", () => {
  const t = new StallTracker();
  const claimed = sample({ pending: 0, ack_pending: 1, waiting: 0 });
  assert.is(t.observe(claimed, 0), 0);
  assert.is(t.observe(claimed, 10 * STALL_MS), 0);
  // A message going round again (nak'd, poison) is waiting work: its stand-still counts.
  const poison = sample({ pending: 0, ack_pending: 1, redelivered: 1 });
  assert.is(t.observe(poison, 10 * STALL_MS), 0);
  assert.is(t.observe(poison, 11 * STALL_MS), STALL_MS);
  // Idle resets the clock.
  assert.is(t.observe(sample(), 12 * STALL_MS), 0);
  assert.is(t.observe(poison, 12 * STALL_MS + 5), 0);
});

test("audit writer: a backlog that does not shrink for the window, and fresh dead letters, are problems", () => {
  let stats: AuditStats = { backlog: 0, deadLettered: 0 };
  const w = new AuditWatch("gateway", { stats: () => stats });
  let now = 0;
  assert.is(w.observe(now, STALL_MS).problem, undefined);
  stats = { backlog: 40, deadLettered: 0, lastError: "connect ECONNREFUSED" };
  assert.is(w.observe((now += 1000), STALL_MS).problem, undefined);
  stats = { ...stats, backlog: 90 };
  assert.is(w.observe((now += STALL_MS / 2), STALL_MS).problem, undefined);
  stats = { ...stats, backlog: 120 };
  assert.is(w.observe((now += STALL_MS / 2), STALL_MS).problem, "audit (gateway): 120 record(s) waiting, not written for 60s (last error: connect ECONNREFUSED)");
  // Flushing again: the backlog shrinks, the problem is gone.
  stats = { backlog: 10, deadLettered: 0 };
  assert.is(w.observe((now += 1000), STALL_MS).problem, undefined);
  stats = { backlog: 0, deadLettered: 2, lastError: "22P05 unsupported Unicode escape sequence" };
  assert.match(w.observe((now += 1000), STALL_MS).problem ?? "", /^audit \(gateway\): 2 record\(s\) dead-lettered since start, the last within 60s \(last error: 22P05/);
  stats = { backlog: 0, deadLettered: 2 };
  assert.ok(w.observe(now + STALL_MS - 1, STALL_MS).problem, "still inside the window");
  const later = w.observe(now + STALL_MS, STALL_MS);
  assert.equal([later.problem, later.dead_lettered], [undefined, 2]);
});

test.run();
