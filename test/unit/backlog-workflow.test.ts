/**
 * backlog_tool by hand: every status transition (allowed ones accepted, the rest refused with
 * conflict), cleanup retention, the dashboard on a seeded set counted by hand, upsert, list, get.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BACKLOG_STATUSES, BacklogPolicy, type BacklogStatus } from "../../src/config/backlog-policy.js";
import type { BacklogDashboard } from "../../src/backlog/dashboard.js";
import { MemoryBacklogStore } from "../../src/stores/backlog/memory.js";
import type { BacklogEvent, BacklogItem, BacklogUpsert } from "../../src/backlog/store.js";
import { DAY_MS, NOW, policy, toolHarness } from "./backlog-fixtures.js";

const transitions = BacklogPolicy.parse({}).workflow.transitions;
const ANY = Object.fromEntries(BACKLOG_STATUSES.map((s) => [s, BACKLOG_STATUSES.filter((t) => t !== s)])) as typeof transitions;

function input(key: string, over: Partial<BacklogUpsert> = {}): BacklogUpsert {
  return { dedupe_key: key, env: "prod", service: "gateway", category: "incidents", title: key, priority: "P2", owner: "oncall", due_date: "2026-03-20", source: "manual", ...over };
}

/** An item put into `status` directly (any path), at `at`. */
async function seeded(store: MemoryBacklogStore, key: string, status: BacklogStatus, at: Date, over: Partial<BacklogUpsert> = {}): Promise<BacklogItem> {
  const [r] = await store.upsert([input(key, over)], "seed", at);
  if (status === "open") return r!.item;
  return (await store.setStatus(r!.item.id, status, { by: "seed", transitions: ANY }, at)).item;
}

test("every transition: the workflow's allowed ones are accepted with an event, every other one is refused with conflict naming the allowed", async () => {
  const store = new MemoryBacklogStore();
  const h = toolHarness(store);
  let n = 0;
  let accepted = 0;
  let refused = 0;
  for (const from of BACKLOG_STATUSES) {
    for (const to of BACKLOG_STATUSES) {
      if (from === to) continue;
      const item = await seeded(store, `t${n++}`, from, NOW);
      if (transitions[from].includes(to)) {
        const r = await h.call<{ item: BacklogItem; changed: boolean }>("set_status", { id: item.id, status: to, message: "moving" }, "helion");
        assert.equal([r.changed, r.item.status], [true, to], `${from} → ${to}`);
        const last = (await store.events(item.id)).at(-1)!;
        assert.equal([last.type, last.meta, last.actor], ["status_change", { from, to }, "helion"]);
        accepted++;
      } else {
        const err = await h.error("set_status", { id: item.id, status: to });
        assert.is(err.code, "conflict", `${from} → ${to}`);
        assert.ok(err.message.includes(`from ${from}: ${transitions[from].join(", ")}`), err.message);
        assert.is((await store.get(item.id))?.status, from, "unchanged");
        refused++;
      }
    }
  }
  assert.equal([accepted, refused], [12, 8]); // 3 + 4 + 3 + 1 + 1 allowed of 20 pairs
  // The same status is no transition: nothing changes, nothing is refused.
  const same = await seeded(store, "same", "blocked", NOW);
  assert.equal((await h.call<{ changed: boolean }>("set_status", { id: same.id, status: "blocked" })).changed, false);
  assert.is((await h.error("set_status", { id: "bl_000000000000", status: "done" })).code, "not_found");
  // The workflow is the policy's: a stricter one refuses what the default allows.
  const strict = toolHarness(store, policy({ workflow: { transitions: { open: ["in_progress"] } } }));
  assert.is((await strict.error("set_status", { id: (await seeded(store, "s", "open", NOW)).id, status: "canceled" })).code, "conflict");
});

test("cleanup: done and canceled items older than retention_days go (with their events); open and recent ones stay", async () => {
  const store = new MemoryBacklogStore();
  const h = toolHarness(store);
  const ago = (days: number) => new Date(NOW.getTime() - days * DAY_MS);
  const oldDone = await seeded(store, "old-done", "done", ago(200));
  const oldCanceled = await seeded(store, "old-canceled", "canceled", ago(181));
  await seeded(store, "old-open", "open", ago(400));
  await seeded(store, "old-blocked", "blocked", ago(400));
  await seeded(store, "recent-done", "done", ago(179));
  await seeded(store, "recent-canceled", "canceled", ago(1));
  const r = await h.call<{ deleted: number; item_ids: string[]; cutoff: string; retention_days: number }>("cleanup");
  assert.equal([r.retention_days, r.cutoff, r.deleted, r.item_ids.sort()], [180, ago(180).toISOString(), 2, [oldDone.id, oldCanceled.id].sort()]);
  assert.equal((await store.list({})).map((i) => i.dedupe_key).sort(), ["old-blocked", "old-open", "recent-canceled", "recent-done"]);
  assert.equal(await store.events(oldDone.id), []);
  const shorter = await h.call<{ deleted: number }>("cleanup", { retention_days: 30 });
  assert.is(shorter.deleted, 1, "recent-done (179 days) goes with a 30-day retention; recent-canceled (1 day) stays");
});

test("dashboard on a seeded set: every number as counted by hand", async () => {
  const store = new MemoryBacklogStore();
  const h = toolHarness(store);
  const at = new Date(NOW.getTime() - 5 * DAY_MS);
  // today is 2026-03-10: due before it and not done/canceled = overdue.
  await seeded(store, "A", "open", at, { service: "gateway", priority: "P0", due_date: "2026-03-01" }); // overdue
  await seeded(store, "B", "in_progress", at, { service: "gateway", priority: "P1", due_date: "2026-03-20" });
  await seeded(store, "C", "blocked", at, { service: "db", priority: "P1", due_date: "2026-03-05" }); // overdue
  await seeded(store, "D", "done", at, { service: "db", priority: "P2", due_date: "2026-03-01" }); // done: not overdue
  await seeded(store, "E", "canceled", at, { service: "cache", priority: "P3", due_date: "2026-02-01" }); // canceled: not overdue
  await seeded(store, "F", "open", at, { service: "cache", priority: "P2", due_date: "2026-03-10" }); // due today: not overdue
  await seeded(store, "G", "open", at, { service: "gateway", env: "staging", priority: "P0", due_date: "2026-01-01" }); // other env
  const d = await h.call<BacklogDashboard>("dashboard", { env: "prod" });
  assert.equal(
    { ...d, overdue: d.overdue.map((o) => [o.service, o.priority, o.due_date, o.status]) },
    {
      env: "prod",
      total: 6,
      status_counts: { open: 2, in_progress: 1, blocked: 1, done: 1, canceled: 1 },
      priority_counts: { P0: 1, P1: 2, P2: 2, P3: 1 },
      overdue_count: 2,
      overdue: [["gateway", "P0", "2026-03-01", "open"], ["db", "P1", "2026-03-05", "blocked"]],
      top_services: [{ service: "gateway", count: 2 }, { service: "cache", count: 1 }, { service: "db", count: 1 }],
    },
  );
  const staging = await h.call<BacklogDashboard>("dashboard", { env: "staging" });
  assert.equal([staging.total, staging.overdue_count], [1, 1]);
  const overdue = await h.call<{ items: BacklogItem[] }>("list", { env: "prod", overdue: true });
  assert.equal(overdue.items.map((i) => i.dedupe_key), ["A", "C"]);
});

test("upsert by hand: category defaults, same title = same item, explicit owner applied, by id; get shows the events", async () => {
  const store = new MemoryBacklogStore();
  const h = toolHarness(store, policy({ ownership: { overrides: { services: { gateway: "cto" } } } }));
  type Up = { action: string; changed: string[]; item: BacklogItem };
  const a = await h.call<Up>("upsert", { service: "gateway", category: "recurrence", title: "Retry storm on login" });
  assert.equal([a.action, a.item.priority, a.item.due_date, a.item.owner, a.item.source, a.item.env], ["created", "P2", "2026-03-31", "cto", "manual", "prod"]);
  assert.match(a.item.dedupe_key, /^manual:prod:gateway:recurrence:[0-9a-f]{12}$/);
  const again = await h.call<Up>("upsert", { service: "gateway", category: "recurrence", title: "Retry storm on login", description: "seen thrice" });
  assert.equal([again.action, again.item.id, again.changed], ["updated", a.item.id, ["description"]]);
  const owner = await h.call<Up>("upsert", { id: a.item.id, owner: "bob", title: "Retry storm on login (v2)" });
  assert.equal([owner.item.owner, owner.item.title, owner.changed], ["bob", "Retry storm on login (v2)", ["title", "owner"]]);
  assert.is((await h.error("upsert", { id: a.item.id, service: "db" })).code, "invalid_request");
  assert.is((await h.error("upsert", { service: "gateway" })).code, "invalid_request");
  await h.call("add_comment", { id: a.item.id, message: "linked to INC-42" }, "helion");
  const got = await h.call<{ item: BacklogItem; events: BacklogEvent[] }>("get", { id: a.item.id });
  assert.equal(got.events.map((e) => [e.type, e.actor]), [["created", "sofiia"], ["updated", "sofiia"], ["updated", "sofiia"], ["comment", "helion"]]);
  const listed = await h.call<{ count: number }>("list", { status: "open,in_progress", owner: "bob" });
  assert.is(listed.count, 1);
});

test.run();
