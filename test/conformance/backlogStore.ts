/**
 * The BacklogStore contract, run against memory, JSONL and Postgres: upsert by dedupe key (owner
 * and status kept), list, the status workflow, comments, purge, replay rows. When the handle
 * carries `sql` (Postgres), also the constraints: dedupe_key UNIQUE, events cascade, indexes.
 */
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BacklogPolicy } from "../../src/config/backlog-policy.js";
import { OpsError } from "../../src/errors.js";
import { JsonlBacklogStore } from "../../src/stores/backlog/jsonl.js";
import { MemoryBacklogStore } from "../../src/stores/backlog/memory.js";
import { PostgresBacklogStore } from "../../src/stores/backlog/postgres.js";
import type { BacklogStore, BacklogUpsert } from "../../src/backlog/store.js";
import { createPool } from "../../src/stores/pg.js";
import { at, isoAt, T0 } from "./fixtures.js";

export interface BacklogHandle {
  store: BacklogStore;
  cleanup(): Promise<void>;
  /** Postgres only: raw SQL on the store's database. */
  sql?: (text: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;
}

/** Fresh, empty stores per test, one maker per backend (so each runner file needs one import). */
export const backlogBackends = {
  memory: () => async (): Promise<BacklogHandle> => {
    const store = new MemoryBacklogStore();
    await store.init();
    return { store, cleanup: () => store.close() };
  },
  jsonl: (dir: () => string) => async (): Promise<BacklogHandle> => {
    const store = new JsonlBacklogStore({ path: join(dir(), "backlog.jsonl") });
    await store.init();
    return { store, cleanup: () => store.close() };
  },
  postgres: (url: string) => async (): Promise<BacklogHandle> => {
    const pool = createPool(url);
    const store = new PostgresBacklogStore({ pool });
    await store.init();
    await store.clearRows();
    return { store, cleanup: () => store.close(), sql: async (text, params) => (await pool.query(text, params)).rows };
  },
};

const transitions = BacklogPolicy.parse({}).workflow.transitions;

export function upsertInput(key: string, over: Partial<BacklogUpsert> = {}): BacklogUpsert {
  return {
    dedupe_key: key, env: "prod", service: "gateway", category: "arch_review", title: `title ${key}`, description: "why",
    priority: "P1", owner: "oncall", due_date: "2026-03-15", source: "digest", meta: { week: "2026-09" }, ...over,
  };
}

async function created(s: BacklogStore, key: string) {
  const [r] = await s.upsert([upsertInput(key)], "x", T0);
  return r!.item;
}

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.instance(err, OpsError);
  return (err as OpsError).code;
}

export function runBacklogStoreConformance(name: string, make: () => Promise<BacklogHandle>): void {
  const test = suite(`${name} BacklogStore`);
  let h: BacklogHandle | undefined;
  const open = async () => (h = await make()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });

  test("upsert creates with every field and a created event; a second upsert updates title/meta, keeps owner, status, priority, due date", async () => {
    const s = await open();
    const [r] = await s.upsert([upsertInput("k1")], "scheduler", T0);
    assert.is(r?.action, "created");
    const item = r!.item;
    assert.match(item.id, /^bl_[0-9a-f]{12}$/);
    assert.equal(item, {
      id: item.id, dedupe_key: "k1", env: "prod", service: "gateway", category: "arch_review", title: "title k1", description: "why",
      priority: "P1", status: "open", owner: "oncall", due_date: "2026-03-15", source: "digest", meta: { week: "2026-09" },
      created_by: "scheduler", created_at: isoAt(0), updated_at: isoAt(0),
    });
    assert.equal(await s.get(item.id), item);
    assert.equal(await s.byDedupeKeys(["nope", "k1"]), [item]);
    await s.setStatus(item.id, "in_progress", { by: "helion", transitions }, at(1));
    const [again] = await s.upsert([upsertInput("k1", { title: "new title", meta: { week: "2026-09", score: 9 }, owner: "someone", priority: "P3", due_date: "2026-04-01" })], "scheduler", at(2));
    assert.equal([again?.action, again?.changed], ["updated", ["title", "meta"]]);
    assert.equal(
      [again?.item.id, again?.item.title, again?.item.meta, again?.item.owner, again?.item.status, again?.item.priority, again?.item.due_date, again?.item.updated_at],
      [item.id, "new title", { week: "2026-09", score: 9 }, "oncall", "in_progress", "P1", "2026-03-15", isoAt(2)],
    );
    const [same] = await s.upsert([upsertInput("k1", { title: "new title", meta: { week: "2026-09", score: 9 } })], "scheduler", at(3));
    assert.equal([same?.action, same?.item.updated_at], ["unchanged", isoAt(2)]);
    const [owned] = await s.upsert([upsertInput("k1", { title: "new title", meta: { week: "2026-09", score: 9 }, owner: "cto", overwrite: ["owner"] })], "sofiia", at(4));
    assert.equal([owned?.action, owned?.changed, owned?.item.owner, owned?.item.status], ["updated", ["owner"], "cto", "in_progress"]);
    assert.equal((await s.events(item.id)).map((e) => e.type), ["created", "status_change", "updated", "updated"]);
    assert.is((await s.list({})).length, 1);
  });

  test("one key twice in a batch, and concurrent upserts of a new key: one item", async () => {
    const s = await open();
    const rs = await s.upsert([upsertInput("dup"), upsertInput("dup", { title: "second" }), upsertInput("other")], "x", T0);
    assert.equal(rs.map((r) => r.action), ["created", "updated", "created"]);
    assert.is(rs[0]?.item.id, rs[1]?.item.id);
    await Promise.all(Array.from({ length: 6 }, (_, i) => s.upsert([upsertInput("race", { title: `t${i}` })], "x", at(i))));
    const items = await s.list({ limit: 100 });
    assert.equal(items.map((i) => i.dedupe_key).sort(), ["dup", "other", "race"]);
    assert.is(items.find((i) => i.dedupe_key === "dup")?.title, "second");
    assert.is(await code(s.upsert([upsertInput("bad", { due_date: "next week" })], "x", T0)), "invalid_request");
    // Meta equal but for key order (jsonb reorders keys) is no change.
    const meta = { week_label: "2026-09", a: { zz: 1, b: [1, { y: 2, x: 1 }] } };
    await s.upsert([upsertInput("order", { meta })], "x", T0);
    const [same] = await s.upsert([upsertInput("order", { meta: { a: { b: [1, { x: 1, y: 2 }], zz: 1 }, week_label: "2026-09" } })], "x", at(1));
    assert.equal([same?.action, same?.item.meta], ["unchanged", meta]);
  });

  test("list: filters, priority then due date order, limit", async () => {
    const s = await open();
    await s.upsert([
      upsertInput("a", { priority: "P2", due_date: "2026-03-10", service: "db" }),
      upsertInput("b", { priority: "P0", due_date: "2026-03-20", owner: "cto" }),
      upsertInput("c", { priority: "P2", due_date: "2026-03-05", env: "staging", category: "incidents" }),
      upsertInput("d", { priority: "P1", due_date: "2026-03-01" }),
    ], "x", T0);
    const keys = async (q: Parameters<BacklogStore["list"]>[0]) => (await s.list(q)).map((i) => i.dedupe_key);
    assert.equal(await keys({}), ["b", "d", "c", "a"]);
    assert.equal(await keys({ limit: 2 }), ["b", "d"]);
    assert.equal(await keys({ env: "prod" }), ["b", "d", "a"]);
    assert.equal(await keys({ service: "db" }), ["a"]);
    assert.equal(await keys({ category: "incidents" }), ["c"]);
    assert.equal(await keys({ owner: "cto" }), ["b"]);
    assert.equal(await keys({ priority: ["P1", "P2"] }), ["d", "c", "a"]);
    assert.equal(await keys({ due_before: "2026-03-10" }), ["d", "c"]);
    const d = (await s.byDedupeKeys(["d"]))[0]!;
    await s.setStatus(d.id, "canceled", { by: "x", transitions }, at(5));
    assert.equal(await keys({ status: ["canceled"] }), ["d"]);
    assert.equal(await keys({ status: ["open"], updated_before: isoAt(1) }), ["b", "c", "a"]);
    assert.equal(await keys({ updated_before: isoAt(0) }), []);
  });

  test("setStatus: allowed moves with an event, same status unchanged, refused ones conflict naming the allowed, unknown id not_found", async () => {
    const s = await open();
    const item = await created(s, "w");
    const r1 = await s.setStatus(item.id, "in_progress", { by: "helion", message: "on it", transitions }, at(1));
    assert.equal([r1.changed, r1.item.status, r1.item.updated_at], [true, "in_progress", isoAt(1)]);
    const r2 = await s.setStatus(item.id, "in_progress", { by: "helion", transitions }, at(2));
    assert.equal([r2.changed, r2.item.updated_at], [false, isoAt(1)]);
    await s.setStatus(item.id, "done", { by: "helion", transitions }, at(3));
    const err = await s.setStatus(item.id, "blocked", { by: "helion", transitions }, at(4)).then(() => undefined, (e: unknown) => e as OpsError);
    assert.is(err?.code, "conflict");
    assert.match(err!.message, /done → blocked is not allowed; from done: open/);
    assert.equal((err!.details as { allowed: string[] }).allowed, ["open"]);
    assert.is((await s.get(item.id))?.status, "done");
    const ev = (await s.events(item.id)).filter((e) => e.type === "status_change");
    assert.equal(ev.map((e) => [e.meta.from, e.meta.to, e.actor]), [["open", "in_progress", "helion"], ["in_progress", "done", "helion"]]);
    assert.match(ev[0]!.message, /on it/);
    assert.is(await code(s.setStatus("bl_000000000000", "done", { by: "x", transitions }, T0)), "not_found");
  });

  test("addComment: an event oldest-first after the others; empty or unknown item refused", async () => {
    const s = await open();
    const item = await created(s, "c");
    const ev = await s.addComment(item.id, { by: "sofiia", message: "see ADR-12" }, at(1));
    assert.equal([ev.type, ev.actor, ev.message, ev.item_id, ev.ts], ["comment", "sofiia", "see ADR-12", item.id, isoAt(1)]);
    assert.equal((await s.events(item.id)).map((e) => e.type), ["created", "comment"]);
    assert.is(await code(s.addComment(item.id, { by: "x", message: "  " }, T0)), "invalid_request");
    assert.is(await code(s.addComment("bl_000000000000", { by: "x", message: "hi" }, T0)), "not_found");
  });

  test("purge: only the given statuses updated before the cutoff, with their events; the key is free again", async () => {
    const s = await open();
    const rs = await s.upsert([upsertInput("old-done"), upsertInput("old-open"), upsertInput("new-done"), upsertInput("old-canceled")], "x", T0);
    const id = (k: string) => rs.find((r) => r.item.dedupe_key === k)!.item.id;
    await s.setStatus(id("old-done"), "in_progress", { by: "x", transitions }, at(1));
    await s.setStatus(id("old-done"), "done", { by: "x", transitions }, at(2));
    await s.setStatus(id("old-canceled"), "canceled", { by: "x", transitions }, at(2));
    await s.setStatus(id("new-done"), "in_progress", { by: "x", transitions }, at(1));
    await s.setStatus(id("new-done"), "done", { by: "x", transitions }, at(20));
    const gone = await s.purge(["done", "canceled"], isoAt(10));
    assert.equal(gone.sort(), [id("old-done"), id("old-canceled")].sort());
    assert.equal((await s.list({})).map((i) => i.dedupe_key).sort(), ["new-done", "old-open"]);
    assert.equal(await s.events(id("old-done")), []);
    assert.is((await s.events(id("new-done"))).length, 3);
    const [again] = await s.upsert([upsertInput("old-done")], "x", at(30));
    assert.equal([again?.action, again?.item.id === id("old-done")], ["created", false]);
    assert.equal(await s.purge(["done"], isoAt(10)), []);
  });

  test("replay rows: export → import is idempotent; a fallback item holding a known key folds into it", async () => {
    const s = await open();
    const item = await created(s, "k");
    await s.setStatus(item.id, "in_progress", { by: "x", transitions }, at(1));
    await s.addComment(item.id, { by: "x", message: "note" }, at(2));
    const rows = await s.exportRows();
    // What a fallback took during an outage: the same key as a new item, plus a brand-new one.
    const fallback = new MemoryBacklogStore();
    await fallback.upsert([upsertInput("k", { title: "from fallback" }), upsertInput("fresh")], "x", at(3));
    const fbRows = await fallback.exportRows();
    await s.importRows(fbRows);
    await s.importRows(fbRows);
    await s.importRows(rows);
    const items = await s.list({});
    assert.equal(items.map((i) => i.dedupe_key).sort(), ["fresh", "k"]);
    const k = items.find((i) => i.dedupe_key === "k")!;
    assert.equal([k.id, k.title, k.status, k.owner], [item.id, "from fallback", "in_progress", "oncall"]);
    assert.equal((await s.events(item.id)).map((e) => e.type), ["created", "status_change", "comment", "created"]);
    await s.clearRows();
    assert.equal(await s.exportRows(), []);
  });

  test("postgres: dedupe_key UNIQUE, events cascade with their item, the runbook's indexes", async () => {
    const s = await open();
    if (!h?.sql) return; // only backends with SQL
    const sql = h.sql;
    const item = await created(s, "u");
    await s.addComment(item.id, { by: "x", message: "hi" }, at(1));
    const dup = await sql(
      `INSERT INTO backlog_items (id, dedupe_key, env, service, category, title, priority, status, owner, due_date, source, created_by, created_at, updated_at)
       VALUES ('bl_dup', 'u', 'prod', 's', 'c', 't', 'P1', 'open', 'o', '2026-01-01', 'manual', 'x', now(), now())`,
    ).then(() => undefined, (e: { code?: string; constraint?: string }) => e);
    assert.equal([dup?.code, dup?.constraint], ["23505", "backlog_items_dedupe_key_key"]);
    assert.is((await sql("SELECT count(*)::int AS n FROM backlog_events WHERE item_id = $1", [item.id]))[0]?.n, 2);
    await sql("DELETE FROM backlog_items WHERE id = $1", [item.id]);
    assert.is((await sql("SELECT count(*)::int AS n FROM backlog_events WHERE item_id = $1", [item.id]))[0]?.n, 0);
    const idx = (await sql("SELECT indexdef FROM pg_indexes WHERE tablename IN ('backlog_items', 'backlog_events')")).map((r) => String(r.indexdef));
    for (const cols of ["(env, status)", "(service)", "(due_date)", "(owner)", "(category)", "(item_id)", "(ts)"]) {
      assert.ok(idx.some((d) => d.endsWith(cols)), `an index on ${cols}: ${idx.join("; ")}`);
    }
    const fk = await sql("SELECT confdeltype FROM pg_constraint WHERE conrelid = 'backlog_events'::regclass AND contype = 'f'");
    assert.equal(fk.map((r) => r.confdeltype), ["c"]);
  });

  test.run();
}
