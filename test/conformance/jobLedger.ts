/** The JobLedgerStore contract, run against every backend. Each test gets a fresh, empty store. */
import { randomBytes } from "node:crypto";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { JsonlJobLedgerStore } from "../../src/stores/jobs/jsonl.js";
import { inputsHash } from "../../src/jobs/ledger-rules.js";
import { MemoryJobLedgerStore } from "../../src/stores/jobs/memory.js";
import { PostgresJobLedgerStore } from "../../src/stores/jobs/postgres.js";
import { createPool } from "../../src/stores/pg.js";
import type { JobLedgerStore, JobRunHeader } from "../../src/jobs/ledger-store.js";
import { at, isoAt, type MakeStore, type StoreHandle } from "./fixtures.js";

export function jobHeader(over: Partial<JobRunHeader> = {}): JobRunHeader {
  const id = over.id ?? `job_${randomBytes(6).toString("hex")}`;
  const slot = over.slot ?? "2026-03-02T06:00:00Z";
  const task = over.task_id ?? "weekly_platform_priority_digest";
  return {
    id, task_id: task, trigger: "schedule", slot, key: `${task}@${slot}:${id}`, tool: "architecture_pressure_tool", action: "digest",
    inputs: { env: "prod" }, inputs_hash: inputsHash({ env: "prod" }), dry_run: false, requested_by: "scheduler:node1", created_at: isoAt(0),
    ...over,
  };
}

export function runJobLedgerConformance(name: string, makeStore: MakeStore<JobLedgerStore>): void {
  const test = suite(`${name} JobLedgerStore`);
  let h: StoreHandle<JobLedgerStore> | undefined;
  const open = async () => (h = await makeStore()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });
  const lease = (minutes: number, holder = "r1") => ({ holder, lease_until: isoAt(minutes), skipIfRunning: true, node_id: "n1" });

  test("createRun records a queued run; the same key returns it (created false)", async () => {
    const s = await open();
    const hd = jobHeader({ key: "t@slot", run_token: "tok", rerun_of: "job_x" });
    const first = await s.createRun(hd, at(0));
    assert.is(first.created, true);
    assert.equal([first.run.status, first.run.transitions.map((t) => [t.n, t.status])], ["queued", [[1, "queued"]]]);
    const again = await s.createRun(jobHeader({ key: "t@slot" }), at(1));
    assert.equal([again.created, again.run.id], [false, hd.id]);
    assert.equal((await s.getByKey("t@slot"))?.id, hd.id);
    const got = await s.get(hd.id);
    assert.equal([got?.slot, got?.run_token, got?.rerun_of, got?.inputs, got?.created_at], [hd.slot, "tok", "job_x", { env: "prod" }, hd.created_at]);
    assert.is(await s.get("job_missing"), null);
  });

  test("start → succeeded: transitions appended in order; duration, outputs and lease derived", async () => {
    const s = await open();
    const hd = jobHeader();
    await s.createRun(hd, at(0));
    const started = await s.startRun(hd.id, lease(5), at(1));
    assert.equal([started?.started, started?.run.status, started?.run.started_at], [true, "running", isoAt(1)]);
    assert.is(await s.startRun(hd.id, lease(5), at(1)), null, "only a queued run starts");
    assert.is(await s.transition(hd.id, ["queued"], { status: "failed" }, at(2)), null, "from-status is checked");
    const done = await s.transition(hd.id, ["running"], { status: "succeeded", outputs: { written: ["a.md"] }, node_id: "n1" }, at(3));
    assert.equal(
      [done?.status, done?.finished_at, done?.duration_ms, done?.outputs, done?.transitions.map((t) => [t.n, t.status])],
      ["succeeded", isoAt(3), 2 * 60_000, { written: ["a.md"] }, [[1, "queued"], [2, "running"], [3, "succeeded"]]],
    );
    assert.equal(await s.renewLease(hd.id, "r1", isoAt(10)), { held: false, cancelRequested: false }, "the lease ends with the run");
    assert.equal((await s.get(hd.id))?.transitions, done?.transitions);
  });

  test("overlap: a second run of a task is skipped while the first holds an unexpired lease", async () => {
    const s = await open();
    const a = jobHeader({ slot: "2026-03-02T06:00:00Z" });
    const b = jobHeader({ slot: "2026-03-02T06:01:00Z" });
    const c = jobHeader({ slot: "2026-03-02T06:02:00Z" });
    const other = jobHeader({ task_id: "audit_cleanup" });
    for (const x of [a, b, c, other]) await s.createRun(x, at(0));
    await s.startRun(a.id, lease(5), at(1));
    const skipped = await s.startRun(b.id, lease(6, "r2"), at(2));
    assert.equal([skipped?.started, skipped?.run.status, skipped?.run.reason], [false, "skipped", "overlap"]);
    assert.is((await s.startRun(other.id, lease(6, "r2"), at(2)))?.started, true, "other tasks are not blocked");
    // After a's lease expired (its runner died), the task is free again.
    assert.is((await s.startRun(c.id, lease(20, "r3"), at(6)))?.started, true);
  });

  test("overlap allowed: skipIfRunning false starts both", async () => {
    const s = await open();
    const a = jobHeader();
    const b = jobHeader();
    await s.createRun(a, at(0));
    await s.createRun(b, at(0));
    await s.startRun(a.id, lease(5), at(1));
    assert.is((await s.startRun(b.id, { ...lease(5, "r2"), skipIfRunning: false }, at(1)))?.started, true);
  });

  test("cancel: queued → canceled at once; running → requested, seen on renewal; finished → unchanged", async () => {
    const s = await open();
    const q = jobHeader();
    const r = jobHeader({ task_id: "audit_cleanup" });
    await s.createRun(q, at(0));
    await s.createRun(r, at(0));
    const canceled = await s.requestCancel(q.id, at(1));
    assert.equal([canceled?.status, canceled?.reason], ["canceled", "canceled"]);
    assert.equal((await s.requestCancel(q.id, at(2)))?.transitions.length, 2, "idempotent");
    await s.startRun(r.id, lease(5), at(1));
    assert.equal(await s.renewLease(r.id, "r1", isoAt(6)), { held: true, cancelRequested: false });
    const requested = await s.requestCancel(r.id, at(2));
    assert.equal([requested?.status, requested?.cancel_requested], ["running", true]);
    assert.equal(await s.renewLease(r.id, "r1", isoAt(7)), { held: true, cancelRequested: true });
    assert.equal(await s.renewLease(r.id, "someone-else", isoAt(7)), { held: false, cancelRequested: false });
    await s.transition(r.id, ["running"], { status: "canceled", reason: "canceled" }, at(3));
    const after = await s.requestCancel(r.id, at(4));
    assert.equal([after?.status, after?.transitions.length], ["canceled", 3]);
    assert.is(await s.requestCancel("job_missing", at(4)), null);
  });

  test("sweepExpired: running runs past their lease become failed (abandoned); live leases are kept", async () => {
    const s = await open();
    const dead = jobHeader();
    const live = jobHeader({ task_id: "audit_cleanup" });
    await s.createRun(dead, at(0));
    await s.createRun(live, at(0));
    await s.startRun(dead.id, lease(2), at(1));
    await s.startRun(live.id, lease(2), at(1));
    await s.renewLease(live.id, "r1", isoAt(10));
    const swept = await s.sweepExpired(at(3), "sweeper");
    assert.equal(swept.map((r) => [r.id, r.status, r.error_code]), [[dead.id, "failed", "abandoned"]]);
    assert.is((await s.get(live.id))?.status, "running");
    assert.equal(await s.sweepExpired(at(3)), [], "a second sweep finds nothing");
    assert.is(await s.transition(dead.id, ["running"], { status: "succeeded" }, at(4)), null, "a late finish does not overwrite");
  });

  test("list: filters by task, status, created window, slot window, dry_run; newest first; limit", async () => {
    const s = await open();
    const a = jobHeader({ created_at: isoAt(1), slot: "2026-03-02T06:00:00Z" });
    const b = jobHeader({ created_at: isoAt(2), slot: "2026-03-09T06:00:00Z", dry_run: true });
    const c = jobHeader({ created_at: isoAt(3), task_id: "audit_cleanup", slot: "2026-03-03T03:30:00Z" });
    for (const x of [a, b, c]) await s.createRun(x, at(0));
    await s.startRun(a.id, lease(60), at(4));
    const ids = async (q: Parameters<JobLedgerStore["list"]>[0]) => (await s.list(q)).map((r) => r.id);
    assert.equal(await ids({}), [c.id, b.id, a.id]);
    assert.equal(await ids({ order: "asc" }), [a.id, b.id, c.id]);
    assert.equal(await ids({ task_id: "weekly_platform_priority_digest" }), [b.id, a.id]);
    assert.equal(await ids({ status: ["running"] }), [a.id]);
    assert.equal(await ids({ status: ["queued", "running"], dry_run: false }), [c.id, a.id]);
    assert.equal(await ids({ since: isoAt(2), until: isoAt(3) }), [b.id]);
    assert.equal(await ids({ slot_since: "2026-03-02T00:00:00Z", slot_until: "2026-03-09T00:00:00Z" }), [c.id, a.id]);
    assert.equal(await ids({ limit: 1 }), [c.id]);
  });

  test("export → clear → import (twice) restores runs, transitions and leases", async () => {
    const s = await open();
    const a = jobHeader();
    const b = jobHeader({ task_id: "audit_cleanup" });
    await s.createRun(a, at(0));
    await s.createRun(b, at(0));
    await s.startRun(a.id, lease(5), at(1));
    await s.startRun(b.id, lease(5), at(1));
    await s.transition(b.id, ["running"], { status: "failed", error_code: "internal", error_message: "boom" }, at(2));
    const before = [await s.get(a.id), await s.get(b.id)];
    const rows = await s.exportRows();
    await s.clearRows();
    assert.equal(await s.list({}), []);
    await s.importRows(rows);
    await s.importRows(rows);
    assert.equal([await s.get(a.id), await s.get(b.id)], before);
    assert.equal(await s.renewLease(a.id, "r1", isoAt(9)), { held: true, cancelRequested: false }, "the live lease came back");
  });

  test.run();
}

/** Store factories per backend, so each runner file adds one line. */
export const jobLedgerBackends = {
  memory: (): MakeStore<JobLedgerStore> => async () => {
    const store = new MemoryJobLedgerStore();
    await store.init();
    return { store, cleanup: () => store.close() };
  },
  jsonl: (tempDir: () => string): MakeStore<JobLedgerStore> => async () => {
    const store = new JsonlJobLedgerStore({ path: join(tempDir(), "job_runs.jsonl") });
    await store.init();
    return { store, cleanup: () => store.close() };
  },
  postgres: (url: string): MakeStore<JobLedgerStore> => async () => {
    const store = new PostgresJobLedgerStore({ pool: createPool(url) });
    await store.init();
    await store.clearRows();
    return { store, cleanup: () => store.close() };
  },
};
