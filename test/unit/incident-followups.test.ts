import { test } from "uvu";
import * as assert from "uvu/assert";
import { OpsError } from "../../src/errors.js";
import { daysOverdue, followupEvent, followupsFromEvents, followupsSummary } from "../../src/incidents/followups.js";
import { at, followup, MemoryIncidentStore, seed } from "./incident-fixtures.js";

const NOW = at("2026-03-10T12:00:00Z");

test("a later event with the same followup_id updates status, owner and due date", async () => {
  const store = new MemoryIncidentStore();
  const inc = await seed(store, { started_at: "2026-03-01T10:00:00Z" });
  await followup(store, inc.id, { followup_id: "fu_a", title: "Add alert", owner: "helion", due_date: "2026-03-05", status: "open" }, "2026-03-01T11:00:00Z");
  await followup(store, inc.id, { followup_id: "fu_b", title: "Write runbook", owner: "sofiia", due_date: "2026-03-20" }, "2026-03-01T11:01:00Z");
  await followup(store, inc.id, { followup_id: "fu_a", owner: "monitor-team", due_date: "2026-03-08" }, "2026-03-02T09:00:00Z");
  await followup(store, inc.id, { followup_id: "fu_b", status: "done" }, "2026-03-03T09:00:00Z");
  const fus = followupsFromEvents(await store.events({ incident_ids: [inc.id] }));
  assert.equal(
    fus.map((f) => [f.followup_id, f.title, f.owner, f.due_date, f.status, f.event_ids.length, f.updated_at]),
    [
      ["fu_a", "Add alert", "monitor-team", "2026-03-08", "open", 2, "2026-03-02T09:00:00.000Z"],
      ["fu_b", "Write runbook", "sofiia", "2026-03-20", "done", 2, "2026-03-03T09:00:00.000Z"],
    ],
  );
});

test("overdue: a date is due by the end of its day (UTC); a timestamp at its instant", () => {
  const open = (due_date: string) => ({ status: "open" as const, due_date });
  assert.is(daysOverdue(open("2026-03-10"), NOW), undefined);
  assert.is(daysOverdue(open("2026-03-09"), NOW), 1);
  assert.is(daysOverdue(open("2026-03-01"), NOW), 9);
  assert.is(daysOverdue(open("2026-03-10T11:00:00Z"), NOW), 0);
  assert.is(daysOverdue(open("2026-03-08T11:00:00Z"), NOW), 2);
  assert.is(daysOverdue({ status: "done", due_date: "2026-01-01" }, NOW), undefined);
  assert.is(daysOverdue(open("someday"), NOW), undefined);
});

test("summary: open and overdue by severity, the overdue list, service/env/window scope", async () => {
  const store = new MemoryIncidentStore();
  const p1 = await seed(store, { severity: "P1", started_at: "2026-03-05T10:00:00Z" });
  const p2closed = await seed(store, { severity: "P2", started_at: "2026-03-01T10:00:00Z", closed_at: "2026-03-02T10:00:00Z" });
  const oldClosed = await seed(store, { severity: "P0", started_at: "2025-12-01T10:00:00Z", closed_at: "2025-12-02T10:00:00Z" });
  const oldOpen = await seed(store, { severity: "P3", started_at: "2025-12-01T11:00:00Z" });
  const otherSvc = await seed(store, { service: "billing", severity: "P1", started_at: "2026-03-06T10:00:00Z" });
  const staging = await seed(store, { env: "staging", severity: "P1", started_at: "2026-03-06T10:00:00Z" });
  const fu = (id: string, fid: string, due: string, status: "open" | "done" = "open") =>
    followup(store, id, { followup_id: fid, title: `t ${fid}`, owner: "o", due_date: due, status }, "2026-03-06T00:00:00Z");
  await fu(p1.id, "a", "2026-03-08"); // overdue 2
  await fu(p1.id, "b", "2026-03-30"); // open, not due
  await fu(p1.id, "c", "2026-03-01", "done"); // done: not counted
  await fu(p2closed.id, "d", "2026-03-03"); // closed incident, still in window: overdue 7
  await fu(oldClosed.id, "e", "2025-12-10"); // outside the window and closed: out of scope
  await fu(oldOpen.id, "f", "2026-01-01"); // old but not closed: in scope, overdue 68
  await fu(otherSvc.id, "g", "2026-03-01");
  await fu(staging.id, "h", "2026-03-01");

  const incidents = await store.list({ limit: 1000 });
  const events = await store.events({});
  const s = followupsSummary({ incidents, events, now: NOW, service: "gateway", env: "prod", window_days: 30 });
  assert.is(s.open_count, 4);
  assert.is(s.overdue_count, 3);
  assert.equal(s.by_severity, { P0: { open: 0, overdue: 0 }, P1: { open: 2, overdue: 1 }, P2: { open: 1, overdue: 1 }, P3: { open: 1, overdue: 1 } });
  assert.equal(
    s.overdue.map((o) => [o.followup_id, o.incident_id, o.severity, o.days_overdue]),
    [
      ["f", oldOpen.id, "P3", 68],
      ["d", p2closed.id, "P2", 7],
      ["a", p1.id, "P1", 2],
    ],
  );
  assert.equal(s.open_incidents, { P0: 0, P1: 1, P2: 0, P3: 1 });
  const all = followupsSummary({ incidents, events, now: NOW, window_days: 365 });
  assert.equal([all.open_count, all.overdue_count], [7, 6]);
});

test("followupEvent: a new one needs title, owner, due_date; an update needs a change", () => {
  const made = followupEvent([], { title: "Fix", owner: "helion", due_date: "2026-03-20" }, undefined, () => "fu_new");
  assert.equal(made.meta, { title: "Fix", owner: "helion", due_date: "2026-03-20", followup_id: "fu_new", status: "open" });
  assert.is(made.update, false);
  assert.match(made.message, "Fix");
  const bad = (meta: Record<string, unknown>): string => {
    try {
      followupEvent([], meta, undefined, () => "x");
    } catch (err) {
      assert.is((err as OpsError).code, "invalid_request");
      return (err as OpsError).message;
    }
    throw new Error("expected a refusal");
  };
  assert.match(bad({ title: "x", owner: "y" }), "due_date");
  assert.match(bad({ title: "x", owner: "y", due_date: "next week" }), "due_date");
  assert.match(bad({ title: "x", owner: "y", due_date: "2026-03-20", status: "later" }), "status");
  const existing = followupsFromEvents([
    { id: "e1", incident_id: "inc_20260301_1000_aa", ts: "2026-03-01T10:00:00.000Z", type: "followup", message: "m", author: "a", meta: { followup_id: "fu_1", title: "Fix", owner: "o", due_date: "2026-03-05", status: "open" } },
  ]);
  const upd = followupEvent(existing, { followup_id: "fu_1", status: "done" }, undefined, () => "unused");
  assert.equal([upd.update, upd.meta.status, upd.meta.followup_id], [true, "done", "fu_1"]);
  try {
    followupEvent(existing, { followup_id: "fu_1" }, undefined, () => "x");
    assert.unreachable();
  } catch (err) {
    assert.match((err as OpsError).message, "update needs");
  }
});

test.run();
