/**
 * backlog_tool through the gateway on a suite-owned nats-server and Postgres database: the
 * missing-digest error, weekly generation as the scheduler (twice: no duplicates, owner and
 * status kept), RBAC per role, the backlog.generated event, rows in Postgres.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { formatIsoWeek, isoWeekOf } from "../../src/util/iso-week.js";
import type { BacklogItem } from "../../src/backlog/store.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startStack, testClock, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const db = await createTestDatabase();
const clock = testClock();
const reportsDir = mkdtempSync(join(tmpdir(), "opsbus-reports-"));
const s: Stack = await startStack({
  roles: ["gateway"],
  now: clock.now,
  env: { BACKLOG_BACKEND: "postgres", DATABASE_URL: db.url, REPORTS_DIR: reportsDir },
});
const sql = new pg.Client({ connectionString: db.url });
await sql.connect();
test.after(async () => {
  await sql.end();
  await s.stop();
  await db.drop();
  rmSync(reportsDir, { recursive: true, force: true });
});

function ok<T>(r: ToolReply<T>): T {
  assert.ok(r.ok, JSON.stringify(r).slice(0, 500));
  return (r as { ok: true; result: T }).result;
}
const errCode = (r: ToolReply) => (r.ok ? "ok" : r.error.code);
type Gen = { week: string; created: number; updated: number; unchanged: number; items: Array<{ id: string; dedupe_key: string }> };

test("no digest yet: the runbook's error through the gateway", async () => {
  const r = await s.call("backlog_tool", "auto_generate_weekly", { env: "prod" }, { agent: "scheduler" });
  assert.equal(r.ok ? r : [r.error.code, r.error.message], ["not_found", "No platform digest found. Run architecture_pressure_tool.digest first."]);
});

test("generation as the scheduler, twice: one item per key in Postgres, owner and status kept; RBAC by role", async () => {
  const week = formatIsoWeek(isoWeekOf(clock.now()));
  mkdirSync(join(reportsDir, "platform"), { recursive: true });
  writeFileSync(join(reportsDir, "platform", `${week}.json`), JSON.stringify({
    week,
    env: "prod",
    services: [
      { service: "gateway", score: 82, band: "critical", requires_arch_review: true, factors: { incidents: 40, followups_overdue: 3 } },
      { service: "db", score: 20, band: "low", requires_arch_review: false, factors: { incidents: 4 } },
    ],
  }));
  const first = ok(await s.call<Gen>("backlog_tool", "auto_generate_weekly", {}, { agent: "scheduler" }));
  assert.equal([first.week, first.created], [week, 3]);
  assert.equal(first.items.map((i) => i.dedupe_key).sort(), ["arch_review", "followups_overdue", "incidents"].map((c) => `platform_backlog:${week}:prod:gateway:${c}`));
  await waitFor(() => s.events("backlog.generated").length === 1, { message: "backlog.generated published" });
  assert.equal(s.events("backlog.generated")[0]?.data.created, 3);

  const id = first.items[0]!.id;
  ok(await s.call("backlog_tool", "set_status", { id, status: "in_progress" }, { agent: "helion" }));
  ok(await s.call("backlog_tool", "upsert", { id, owner: "alice" }, { agent: "sofiia" }));
  clock.advance(60);
  const second = ok(await s.call<Gen>("backlog_tool", "auto_generate_weekly", {}, { agent: "scheduler" }));
  assert.equal([second.created, second.updated + second.unchanged], [0, 3]);
  const rows = await sql.query("SELECT id, owner, status FROM backlog_items ORDER BY id");
  assert.is(rows.rowCount, 3, "no duplicates in Postgres");
  assert.equal(rows.rows.find((r) => r.id === id), { id, owner: "alice", status: "in_progress" });

  assert.is(errCode(await s.call("backlog_tool", "set_status", { id, status: "blocked" }, { agent: "helion" })), "ok");
  const bad = await s.call("backlog_tool", "set_status", { id, status: "done" }, { agent: "helion" });
  assert.equal([errCode(bad), !bad.ok && bad.error.message], ["conflict", `backlog item ${id}: blocked → done is not allowed; from blocked: open, in_progress, canceled`]);

  // Who may do what: read for aistalk, write for helion, admin for sofiia and the scheduler only.
  const got = ok(await s.call<{ item: BacklogItem }>("backlog_tool", "get", { id }, { agent: "aistalk" }));
  assert.is(got.item.owner, "alice");
  assert.is(errCode(await s.call("backlog_tool", "add_comment", { id, message: "x" }, { agent: "aistalk" })), "forbidden");
  assert.is(errCode(await s.call("backlog_tool", "list", {}, { agent: "monitor" })), "forbidden");
  assert.is(errCode(await s.call("backlog_tool", "cleanup", {}, { agent: "helion" })), "forbidden");
  assert.is(errCode(await s.call("backlog_tool", "add_comment", { id, message: "on it" }, { agent: "helion" })), "ok");
  const dash = ok(await s.call<{ total: number; status_counts: Record<string, number> }>("backlog_tool", "dashboard", {}, { agent: "aistalk" }));
  assert.equal([dash.total, dash.status_counts.blocked, dash.status_counts.open], [3, 1, 2]);
  const events = await sql.query("SELECT type FROM backlog_events WHERE item_id = $1 ORDER BY seq", [id]);
  assert.equal(events.rows.map((r) => r.type), ["created", "status_change", "updated", "status_change", "comment"]);
});

test.run();
