/** The AuditStore contract, run against every backend. Each test gets a fresh, empty store. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AuditRecord, AuditStore } from "../../src/audit/store.js";
import { auditRecord, isoAt, type MakeStore, type StoreHandle } from "./fixtures.js";

export function runAuditStoreConformance(name: string, makeStore: MakeStore<AuditStore>): void {
  const test = suite(`${name} AuditStore`);
  let h: StoreHandle<AuditStore> | undefined;
  const open = async () => (h = await makeStore()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });
  const ids = (rs: AuditRecord[]) => rs.map((r) => r.id);

  test("append then query returns the records, oldest first, fields intact", async () => {
    const s = await open();
    const late = auditRecord({ ts: isoAt(5), error_message: "boom", status: "internal", request_id: "req-1" });
    const early = auditRecord({ ts: isoAt(1) });
    const tie = auditRecord({ ts: isoAt(1), id: "aud_000000" });
    await s.append([late, early, tie]);
    const all = await s.query({});
    assert.equal(ids(all), [tie.id, early.id, late.id]);
    assert.equal(all[2], late);
    assert.equal(all[1], early);
    assert.not.ok("error_message" in all[1]!);
    await s.append([]);
  });

  test("query filters: time range (since inclusive, until exclusive), agent, tool, action, decision, status, channel", async () => {
    const s = await open();
    const a = auditRecord({ ts: isoAt(1), agent_id: "helion", role: "agent_oncall" });
    const b = auditRecord({ ts: isoAt(2), tool: "oncall_tool", action: "incident_create" });
    const c = auditRecord({ ts: isoAt(3), decision: "deny", status: "forbidden" });
    const d = auditRecord({ ts: isoAt(4), tool: "oncall_tool", action: "incident_close", channel: "console" });
    await s.append([a, b, c, d]);
    assert.equal(ids(await s.query({ since: isoAt(2) })), [b.id, c.id, d.id]);
    assert.equal(ids(await s.query({ until: isoAt(3) })), [a.id, b.id]);
    assert.equal(ids(await s.query({ since: isoAt(2), until: isoAt(4) })), [b.id, c.id]);
    assert.equal(ids(await s.query({ agent_id: "helion" })), [a.id]);
    assert.equal(ids(await s.query({ tool: "oncall_tool" })), [b.id, d.id]);
    assert.equal(ids(await s.query({ tool: "oncall_tool", action: "incident_close" })), [d.id]);
    assert.equal(ids(await s.query({ decision: "deny" })), [c.id]);
    assert.equal(ids(await s.query({ status: "forbidden" })), [c.id]);
    assert.equal(ids(await s.query({ channel: "console" })), [d.id]);
    assert.equal(ids(await s.query({ status: "ok", limit: 2 })), [a.id, b.id]);
  });

  test("limit: default 100, at most 10,000", async () => {
    const s = await open();
    const many = Array.from({ length: 10_050 }, (_, i) => auditRecord({ ts: new Date(Date.UTC(2026, 2, 1) + i).toISOString() }));
    await s.append(many);
    assert.is((await s.query({})).length, 100);
    assert.is((await s.query({ limit: 50_000 })).length, 10_000);
    assert.equal((await s.query({ limit: 3 })).map((r) => r.id), many.slice(0, 3).map((r) => r.id));
  });

  test("newest_first: the latest `limit` records matching, newest first (ties by id, descending)", async () => {
    const s = await open();
    const rs = [1, 2, 3, 4].map((m) => auditRecord({ ts: isoAt(m), agent_id: m === 2 ? "other" : "sofiia" }));
    const tie = auditRecord({ ts: isoAt(4), id: "aud_zzzzzz" });
    await s.append([...rs, tie]);
    assert.equal(ids(await s.query({ newest_first: true, limit: 3 })), [tie.id, rs[3]!.id, rs[2]!.id]);
    assert.equal(ids(await s.query({ newest_first: true, agent_id: "sofiia", until: isoAt(4) })), [rs[2]!.id, rs[0]!.id]);
  });

  test("append is idempotent per id: the first record wins", async () => {
    const s = await open();
    const r = auditRecord();
    await s.append([r, { ...r, action: "changed" }]);
    await s.append([{ ...r, action: "again" }]);
    assert.equal(await s.query({}), [r]);
  });

  test("purgeOlderThan deletes older records and counts them", async () => {
    const s = await open();
    const old1 = auditRecord({ ts: isoAt(-100) });
    const old2 = auditRecord({ ts: isoAt(-60) });
    const keep = auditRecord({ ts: isoAt(-59) });
    await s.append([old1, old2, keep]);
    assert.is(await s.purgeOlderThan(new Date(isoAt(-59))), 2);
    assert.equal(ids(await s.query({})), [keep.id]);
    assert.is(await s.purgeOlderThan(new Date(isoAt(-59))), 0);
  });

  test("export → import into a fresh store gives equal records; clearRows empties", async () => {
    const s = await open();
    const records = [auditRecord({ ts: isoAt(1), request_id: "r" }), auditRecord({ ts: isoAt(2), params: { deep: { x: [1, "two", null] } } })];
    await s.append(records);
    const rows = await s.exportRows();
    assert.equal(rows, records.map((data) => ({ kind: "audit", data })));
    await h!.cleanup();
    const t = await open();
    await t.importRows(rows);
    await t.importRows(rows);
    assert.equal(await t.query({}), records);
    await t.clearRows();
    assert.equal(await t.query({}), []);
    assert.equal(await t.exportRows(), []);
  });

  test.run();
}
