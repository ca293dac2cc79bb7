/**
 * backlog_tool.auto_generate_weekly over a digest on disk: the missing-digest error, dedupe per
 * week (owners and statuses kept, title/meta updated), priorities and due days, the run cap,
 * ownership overrides, and dry runs that write nothing.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadPolicies } from "../../src/config/load.js";
import { BacklogPolicy } from "../../src/config/backlog-policy.js";
import { NO_DIGEST_MESSAGE } from "../../src/backlog/platform-digest.js";
import { JsonlBacklogStore } from "../../src/stores/backlog/jsonl.js";
import { MemoryBacklogStore } from "../../src/stores/backlog/memory.js";
import type { BacklogItem } from "../../src/backlog/store.js";
import { DAY_MS, NOW, policy, toolHarness, WEEK, writeDigest } from "./backlog-fixtures.js";
import { tmpDir } from "./incident-fixtures.js";

type Gen = { week: string; created: number; updated: number; unchanged: number; over_cap: number; items: Array<{ id: string; dedupe_key: string; action: string }> };

const SERVICES = [
  { service: "gateway", score: 80, band: "critical", requires_arch_review: true, factors: { incidents: 30, recurrence: 12, risk_trend: 0, followups_overdue: 2 } },
  { service: "db", score: 40, band: "medium", requires_arch_review: false, factors: { incidents: 10, followups_overdue: { points: 5, count: 3 } } },
  { service: "cache", score: 5, band: "low", factors: {} },
  { service: "gateway", env: "staging", score: 90, band: "critical", requires_arch_review: true, factors: { incidents: 50 } },
];
const key = (service: string, category: string, week = WEEK, env = "prod") => `platform_backlog:${week}:${env}:${service}:${category}`;

test("the shipped config/backlog_policy.yml is exactly the schema's defaults", () => {
  assert.equal(loadPolicies("config").backlog, BacklogPolicy.parse({}));
});

test("no digest: the runbook's error, word for word; a named week that is missing says so", async () => {
  const h = toolHarness(new MemoryBacklogStore());
  const err = await h.error("auto_generate_weekly", {});
  assert.equal([err.code, err.message], ["not_found", "No platform digest found. Run architecture_pressure_tool.digest first."]);
  assert.is(err.message, NO_DIGEST_MESSAGE);
  writeDigest(h.reportsDir, "2026-10", SERVICES);
  assert.match((await h.error("auto_generate_weekly", { week: "2026-09" })).message, /^No platform digest found for 2026-09\. Run architecture_pressure_tool\.digest first\.$/);
  // A digest from a future week is not "the latest" yet.
  const h2 = toolHarness(new MemoryBacklogStore());
  writeDigest(h2.reportsDir, "2026-12", SERVICES);
  assert.is((await h2.error("auto_generate_weekly")).message, NO_DIGEST_MESSAGE);
});

test("categories from the digest: dedupe keys, priority and due_days per category, bands and env respected", async () => {
  const store = new MemoryBacklogStore();
  const h = toolHarness(store);
  writeDigest(h.reportsDir, "2026-10", [{ service: "old", band: "critical", requires_arch_review: true }]);
  writeDigest(h.reportsDir, WEEK, SERVICES);
  const r = await h.call<Gen>("auto_generate_weekly", {});
  assert.equal([r.week, r.created, r.updated, r.over_cap], [WEEK, 5, 0, 0]);
  const items = await store.list({});
  const byKey = new Map(items.map((i) => [i.dedupe_key, i]));
  // gateway (critical): arch_review, incidents, recurrence, followups_overdue (risk_trend is 0);
  // db (medium): only followups_overdue (the others need band high/critical); cache: nothing; staging ignored.
  assert.equal([...byKey.keys()].sort(), [
    key("db", "followups_overdue"), key("gateway", "arch_review"), key("gateway", "followups_overdue"), key("gateway", "incidents"), key("gateway", "recurrence"),
  ]);
  const due = (days: number) => new Date(Date.parse("2026-03-10T00:00:00Z") + days * DAY_MS).toISOString().slice(0, 10);
  const pick = (k: string) => { const i = byKey.get(k)!; return [i.priority, i.due_date, i.status, i.owner, i.source, i.env]; };
  assert.equal(pick(key("gateway", "arch_review")), ["P1", due(14), "open", "oncall", "digest", "prod"]);
  assert.equal(pick(key("gateway", "recurrence")), ["P2", due(21), "open", "oncall", "digest", "prod"]);
  assert.equal(pick(key("db", "followups_overdue")), ["P2", due(7), "open", "oncall", "digest", "prod"]);
  assert.is(byKey.get(key("gateway", "arch_review"))!.title, "[ARCH] Architecture review: gateway (prod)");
  assert.equal(byKey.get(key("db", "followups_overdue"))!.meta, { week: WEEK, band: "medium", score: 40, factor: "followups_overdue", value: 5, requires_arch_review: false });
  const staging = await h.call<Gen>("auto_generate_weekly", { env: "staging" });
  assert.equal(staging.items.map((i) => i.dedupe_key).sort(), [key("gateway", "arch_review", WEEK, "staging"), key("gateway", "incidents", WEEK, "staging")]);
});

test("a digest in the producer's shape (opsbus.platform_digest/1: env null, factor objects with points and null values) is read as is", async () => {
  const store = new MemoryBacklogStore();
  const h = toolHarness(store);
  const factor = (points: number, value: number | null) => ({ points, value, max: 40, detail: "x" });
  writeDigest(h.reportsDir, WEEK, [
    {
      service: "gateway", env: "prod", score: 61, band: "high", requires_arch_review: true, review_reasons: ["score ≥ 60"],
      categories: ["incidents", "followups_overdue"],
      factors: { incidents: factor(45, 9), recurrence: factor(0, 0), risk_trend: factor(0, null), followups_overdue: factor(16, 4) },
      stats: { incidents: 9, by_severity: { P0: 0, P1: 3, P2: 6, P3: 0 }, recurring_signatures: [], risk_score: null, risk_score_before: null, followups_overdue: 4 },
    } as never,
  ], { schema: "opsbus.platform_digest/1", env: null, from: "2026-03-09T00:00:00.000Z", to: "2026-03-16T00:00:00.000Z", window_days: 7, totals: { services: 1, requires_arch_review: 1, band_counts: { low: 0, medium: 0, high: 1, critical: 0 } } });
  const r = await h.call<Gen>("auto_generate_weekly");
  assert.equal(r.items.map((i) => i.dedupe_key).sort(), [key("gateway", "arch_review"), key("gateway", "followups_overdue"), key("gateway", "incidents")]);
  assert.equal((await store.byDedupeKeys([key("gateway", "incidents")]))[0]?.meta.value, 45);
});

test("run twice in one week: no duplicates, owner and status changed in between are kept, title and meta updated", async () => {
  const store = new MemoryBacklogStore();
  const pol = policy({ categories: { incidents: { priority: "P1", due_days: 14, title: "{service}: {value} incident points" } } });
  const h = toolHarness(store, pol);
  writeDigest(h.reportsDir, WEEK, SERVICES);
  const first = await h.call<Gen>("auto_generate_weekly");
  assert.equal([first.created, first.items.length], [2, 2]);
  const gw = (await store.byDedupeKeys([key("gateway", "incidents")]))[0]!;
  await h.call("upsert", { id: gw.id, owner: "alice" }, "sofiia");
  await h.call("set_status", { id: gw.id, status: "in_progress" }, "helion");

  h.clock.ms += 2 * 3600_000;
  writeDigest(h.reportsDir, WEEK, [{ ...SERVICES[0]!, score: 95, factors: { incidents: 44 } }, SERVICES[1]!]);
  const second = await h.call<Gen>("auto_generate_weekly");
  assert.equal([second.created, second.updated, second.unchanged], [0, 1, 1]); // db's entry did not change
  const all = await store.list({});
  assert.is(all.length, 2, "no duplicates");
  const after = all.find((i) => i.id === gw.id)!;
  assert.equal([after.owner, after.status, after.title, after.meta.value, after.meta.score], ["alice", "in_progress", "gateway: 44 incident points", 44, 95]);
  assert.equal([after.due_date, after.priority, after.created_at], [gw.due_date, gw.priority, gw.created_at]);
  const third = await h.call<Gen>("auto_generate_weekly");
  assert.equal([third.created, third.updated, third.unchanged], [0, 0, 2]);
  // A new week is new items; last week's stay.
  h.clock.ms += 7 * DAY_MS;
  writeDigest(h.reportsDir, "2026-12", SERVICES);
  assert.is((await h.call<Gen>("auto_generate_weekly")).created, 2);
  assert.is((await store.list({})).length, 4);
});

test("max_items_per_run: the most urgent first (priority, then service score); the rest counted as over_cap", async () => {
  const store = new MemoryBacklogStore();
  const h = toolHarness(store, policy({ defaults: { max_items_per_run: 3 } }));
  writeDigest(h.reportsDir, WEEK, SERVICES);
  const r = await h.call<Gen>("auto_generate_weekly");
  assert.equal([r.created, r.over_cap], [3, 2]);
  // P1: gateway arch_review + incidents; P2 by score: gateway (80) before db (40), by key within gateway.
  assert.equal(r.items.map((i) => i.dedupe_key), [key("gateway", "arch_review"), key("gateway", "incidents"), key("gateway", "followups_overdue")]);
  assert.is((await store.list({})).length, 3);
});

test("ownership: the service's override, else the category's, else default_owner", async () => {
  const store = new MemoryBacklogStore();
  const pol = policy({ ownership: { default_owner: "platform", overrides: { services: { db: "dba" }, categories: { arch_review: "architects", followups_overdue: "sre" } } } });
  const h = toolHarness(store, pol);
  writeDigest(h.reportsDir, WEEK, [...SERVICES, { service: "search", band: "high", requires_arch_review: true }]);
  await h.call("auto_generate_weekly");
  const owners = Object.fromEntries((await store.list({})).map((i) => [`${i.service}/${i.category}`, i.owner]));
  assert.equal(owners, {
    "gateway/arch_review": "architects", "gateway/incidents": "platform", "gateway/recurrence": "platform", "gateway/followups_overdue": "sre",
    "db/followups_overdue": "dba", "search/arch_review": "architects",
  });
  assert.not.ok(BacklogPolicy.safeParse({ ownership: { overrides: { categories: { nope: "x" } } } }).success, "an override for an unknown category is refused");
});

test("dry_run on every writing action: the answer says what would change, the store and its file do not", async () => {
  const path = join(tmpDir("backlog"), "backlog.jsonl");
  const store = new JsonlBacklogStore({ path });
  await store.init();
  const h = toolHarness(store);
  writeDigest(h.reportsDir, WEEK, SERVICES);
  await h.call("auto_generate_weekly");
  const item = (await store.list({}))[0] as BacklogItem;
  await h.call("set_status", { id: item.id, status: "in_progress" });
  await h.call("set_status", { id: item.id, status: "done" });
  const bytes = readFileSync(path, "utf8");
  const rows = await store.exportRows();

  h.clock.ms += 200 * DAY_MS;
  writeDigest(h.reportsDir, "2026-39", [{ ...SERVICES[0]!, service: "newsvc" }]);
  const gen = await h.call<Gen & { dry_run: boolean }>("auto_generate_weekly", { dry_run: true });
  assert.equal([gen.dry_run, gen.created, gen.week], [true, 4, "2026-39"]);
  const up = await h.call<{ action: string; item: BacklogItem }>("upsert", { service: "x", category: "arch_review", title: "by hand", dry_run: true });
  assert.equal([up.action, up.item.priority, up.item.owner], ["created", "P1", "oncall"]);
  const st = await h.call<{ changed: boolean; item: BacklogItem }>("set_status", { id: item.id, status: "open", dry_run: true });
  assert.equal([st.changed, st.item.status], [true, "open"]);
  assert.is((await h.error("set_status", { id: item.id, status: "blocked", dry_run: true })).code, "conflict", "a dry run is refused like the real one");
  const cm = await h.call<{ event: { type: string } }>("add_comment", { id: item.id, message: "hi", dry_run: true });
  assert.is(cm.event.type, "comment");
  const cl = await h.call<{ deleted: number; item_ids: string[] }>("cleanup", { dry_run: true });
  assert.equal([cl.deleted, cl.item_ids], [1, [item.id]]);

  assert.is(readFileSync(path, "utf8"), bytes, "the file is byte for byte unchanged");
  assert.equal(await store.exportRows(), rows);
  await store.close();
});

test.run();
