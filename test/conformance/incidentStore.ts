/**
 * The IncidentStore contract, run against every backend (memory, JSONL, Postgres): records,
 * timeline, status, escalation, artifacts, runs and replay rows here; the bridge in
 * incidentAbsorb.ts. Each test gets a fresh, empty store from `makeStore`.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { OpsError } from "../../src/errors.js";
import { MemoryIncidentStore } from "../../src/stores/incidents/memory.js";
import type { IncidentRecord, IncidentStore } from "../../src/incidents/store.js";
import { at, isoAt, T0, type MakeStore, type StoreHandle } from "./fixtures.js";
import { runIncidentAbsorbConformance } from "./incidentAbsorb.js";
import { runIncidentAckConformance } from "./incidentAck.js";
import {
  absorbInput as inp, artifact, bridgePolicy, graphRun, incidentRecord, newIncident, sortIncidentRows,
} from "./incidentFixtures.js";

/** The code of the OpsError `p` rejects with. */
async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.instance(err, OpsError);
  return (err as OpsError).code;
}

export function runIncidentStoreConformance(name: string, makeStore: MakeStore<IncidentStore>): void {
  const test = suite(`${name} IncidentStore`);
  let h: StoreHandle<IncidentStore> | undefined;
  const open = async () => (h = await makeStore()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });
  const ids = (xs: { id: string }[]) => xs.map((x) => x.id);

  test("create: every field, a created event; get; a signature takes the slot only when free", async () => {
    const s = await open();
    const inc = await s.create(newIncident({ labels: { team: "edge", pages: 2 }, started_at: "2026-03-01T11:00:00Z" }), T0);
    assert.match(inc.id, /^inc_20260301_1200_[0-9a-f]{6}$/);
    assert.equal(inc, {
      id: inc.id, service: "gateway", env: "prod", severity: "P2", title: "checkout errors", status: "open",
      started_at: isoAt(-60), created_at: isoAt(0), updated_at: isoAt(0), created_by: "sofiia",
      alert_count: 0, reopened_count: 0, labels: { team: "edge", pages: 2 },
    });
    assert.equal(await s.get(inc.id), inc);
    assert.is(await s.get("inc_missing"), null);
    assert.equal((await s.events({ incident_ids: [inc.id] })).map((e) => [e.type, e.author]), [["created", "sofiia"]]);
    const withSig = await s.create(newIncident({ signature: "sig" }), T0);
    const second = await s.create(newIncident({ signature: "sig" }), at(1));
    assert.equal([withSig.signature_key, second.signature, "signature_key" in second], ["sig", "sig", false]);
    assert.equal((await s.signatureState("sig"))?.open_incident_id, withSig.id);
    const [r] = await s.absorbAlerts([inp("sig", "r1")], bridgePolicy(), at(2));
    assert.equal([r?.action, r?.incident_id], ["appended", withSig.id]);
    assert.is(await code(s.create(newIncident({ severity: "P7" as "P1" }), T0)), "invalid_request");
    assert.is(await code(s.create(newIncident({ title: "" }), T0)), "invalid_request");
  });

  test("list: filters, newest started_at first, default and maximum limits", async () => {
    const s = await open();
    const mk = (minutes: number, over: Parameters<typeof newIncident>[0]) => s.create(newIncident({ started_at: isoAt(minutes), ...over }), at(minutes));
    const a = await mk(1, { service: "db", severity: "P1" });
    const b = await mk(2, { env: "staging", severity: "P3" });
    const c = await mk(3, { signature: "sig-c" });
    const d = await mk(4, {});
    await s.setStatus(d.id, "closed", { by: "sofiia" }, at(5));
    await s.setStatus(b.id, "mitigating", { by: "sofiia" }, at(5));
    assert.equal(ids(await s.list({})), [d.id, c.id, b.id, a.id]);
    assert.equal(ids(await s.list({ status: "open" })), [c.id, a.id]);
    assert.equal(ids(await s.list({ status: ["open", "mitigating"] })), [c.id, b.id, a.id]);
    assert.equal(ids(await s.list({ service: "db" })), [a.id]);
    assert.equal(ids(await s.list({ env: "staging" })), [b.id]);
    assert.equal(ids(await s.list({ severity: ["P1", "P3"] })), [b.id, a.id]);
    assert.equal(ids(await s.list({ severity: "P2" })), [d.id, c.id]);
    assert.equal(ids(await s.list({ signature: "sig-c" })), [c.id]);
    assert.equal(ids(await s.list({ since: isoAt(2), until: isoAt(4) })), [c.id, b.id]);
    assert.equal(ids(await s.list({ limit: 2 })), [d.id, c.id]);
    const many: IncidentRecord[] = Array.from({ length: 1005 }, (_, i) => incidentRecord(`inc_bulk_${String(i).padStart(4, "0")}`, { started_at: isoAt(-i) }));
    await s.importRows(many.map((data) => ({ kind: "incident", data })));
    assert.is((await s.list({})).length, 50);
    assert.is((await s.list({ limit: 5000 })).length, 1000);
  });

  test("events: append, idempotent by dedupe key, unknown types as notes, filters, oldest first", async () => {
    const s = await open();
    const inc = await s.create(newIncident(), T0);
    const other = await s.create(newIncident(), T0);
    const first = await s.appendEvent(inc.id, { type: "followup", message: "add alert", author: "sofiia", meta: { followup_id: "f1", owner: "ivan" }, dedupe_key: "fu:1" }, at(1));
    assert.equal([first.replayed, first.event.type, first.event.ts, first.event.dedupe_key, first.event.meta.owner], [false, "followup", isoAt(1), "fu:1", "ivan"]);
    const again = await s.appendEvent(other.id, { type: "note", message: "different", author: "helion", dedupe_key: "fu:1" }, at(2));
    assert.equal(again, { event: first.event, replayed: true });
    const odd = await s.appendEvent(inc.id, { type: "weird" as "note", message: "m", author: "helion", ts: "2026-03-01T12:03:00Z" }, at(9));
    assert.equal([odd.event.type, odd.event.meta.type, odd.event.ts], ["note", "weird", isoAt(3)]);
    await s.appendEvent(other.id, { type: "note", message: "n", author: "helion" }, at(4));
    assert.is(await code(s.appendEvent("inc_missing", { type: "note", message: "m", author: "a" }, T0)), "not_found");
    const all = await s.events({});
    assert.equal(all.map((e) => e.type), ["created", "created", "followup", "note", "note"]);
    assert.equal((await s.events({ incident_ids: [inc.id] })).map((e) => e.type), ["created", "followup", "note"]);
    assert.equal((await s.events({ type: "note" })).length, 2);
    assert.equal((await s.events({ since: isoAt(3) })).map((e) => e.ts), [isoAt(3), isoAt(4)]);
    assert.equal((await s.events({ limit: 2 })).length, 2);
    assert.equal(await s.events({ incident_ids: [] }), []);
  });

  test("setStatus: transitions with events; closing clears the slot; same status is a no-op", async () => {
    const s = await open();
    const [r] = await s.absorbAlerts([inp("sig", "r1")], bridgePolicy(), T0);
    const id = r!.incident_id;
    const m = await s.setStatus(id, "mitigating", { by: "sofiia" }, at(1));
    assert.equal([m.status, m.signature_key, m.updated_at], ["mitigating", "sig", isoAt(1)]);
    const [again] = await s.absorbAlerts([inp("sig", "r2")], bridgePolicy(), at(2));
    assert.equal([again?.action, again?.incident_id], ["appended", id], "a mitigating incident still takes its alerts");
    const closed = await s.setStatus(id, "closed", { by: "sofiia", resolution: "rolled back" }, at(3));
    assert.equal([closed.status, closed.closed_at, closed.resolution, "signature_key" in closed], ["closed", isoAt(3), "rolled back", false]);
    assert.equal(await s.setStatus(id, "closed", { by: "helion" }, at(4)), closed);
    const st = await s.signatureState("sig");
    assert.equal([st?.open_incident_id, st?.last_incident_id], [undefined, id]);
    const sc = await s.events({ incident_ids: [id], type: "status_change" });
    assert.equal(sc.map((e) => [e.meta.from, e.meta.to, e.author]), [["open", "mitigating", "sofiia"], ["mitigating", "closed", "sofiia"]]);
    assert.is(await code(s.setStatus("inc_missing", "closed", { by: "x" }, T0)), "not_found");
    assert.is(await code(s.setStatus(id, "gone" as "closed", { by: "x" }, T0)), "invalid_request");
    const reopened = await s.setStatus(id, "open", { by: "sofiia" }, at(5));
    assert.equal([reopened.signature_key, "closed_at" in reopened, (await s.signatureState("sig"))?.open_incident_id], ["sig", false, id]);
  });

  test("escalate: compare-and-set on severity, with an event; null when it no longer applies", async () => {
    const s = await open();
    const inc = await s.create(newIncident({ severity: "P2" }), T0);
    const up = await s.escalate(inc.id, "P2", "P1", "error budget", "sofiia", at(1));
    assert.equal([up?.severity, up?.updated_at], ["P1", isoAt(1)]);
    assert.is(await s.escalate(inc.id, "P2", "P0", "stale", "sofiia", at(2)), null);
    const [ev] = await s.events({ incident_ids: [inc.id], type: "escalated" });
    assert.equal([ev?.meta, ev?.author], [{ from: "P2", to: "P1", reason: "error budget" }, "sofiia"]);
    assert.is(await code(s.escalate(inc.id, "P1", "P2", "down", "sofiia", at(2))), "invalid_request");
    assert.is(await code(s.escalate("inc_missing", "P1", "P0", "x", "sofiia", at(2))), "not_found");
    await s.setStatus(inc.id, "closed", { by: "sofiia" }, at(3));
    assert.is(await s.escalate(inc.id, "P1", "P0", "late", "sofiia", at(4)), null);
  });

  test("artifacts: put, replace by name, list; refused formats, sizes and names", async () => {
    const s = await open();
    const inc = await s.create(newIncident(), T0);
    const md = await s.putArtifact(artifact(inc.id, "triage_report.md", { path: "ignored", run_id: "run_1" }));
    assert.equal(md, artifact(inc.id, "triage_report.md", { run_id: "run_1" }));
    await s.putArtifact(artifact(inc.id, "triage_report.json", { format: "json", created_at: isoAt(0) }));
    const replaced = await s.putArtifact(artifact(inc.id, "triage_report.md", { bytes: 999, created_at: isoAt(5) }));
    assert.equal((await s.artifacts(inc.id)).map((a) => [a.name, a.bytes]), [["triage_report.json", 120], ["triage_report.md", 999]]);
    assert.not.ok("run_id" in replaced);
    assert.equal(await s.artifacts("inc_other"), []);
    assert.is(await code(s.putArtifact(artifact(inc.id, "x.pdf", { format: "pdf" as "md" }))), "invalid_request");
    assert.is(await code(s.putArtifact(artifact(inc.id, "big.md", { bytes: 2 * 1024 * 1024 + 1 }))), "invalid_request");
    assert.is(await code(s.putArtifact(artifact(inc.id, "../escape.md"))), "invalid_request");
    assert.is(await code(s.putArtifact(artifact("inc_missing", "a.md"))), "not_found");
    assert.ok(await s.putArtifact(artifact(inc.id, "max.txt", { format: "txt", bytes: 2 * 1024 * 1024 })));
  });

  test("runs: create (idempotent), get, updateRun compare-and-set, listRuns filters", async () => {
    const s = await open();
    const inc = await s.create(newIncident(), T0);
    const run = graphRun(inc.id);
    assert.equal(await s.createRun(run), run);
    assert.equal(await s.createRun({ ...run, status: "failed" }), run);
    assert.equal(await s.getRun(run.id), run);
    assert.is(await s.getRun("run_missing"), null);
    assert.is(await code(s.createRun(graphRun("inc_missing"))), "not_found");
    assert.is(await code(s.createRun(graphRun(inc.id, { graph: "nope" as "postmortem_draft" }))), "invalid_request");
    const started = await s.updateRun(run.id, ["queued"], { status: "running", started_at: isoAt(3), updated_at: isoAt(3), attempts: 1 });
    assert.equal([started?.status, started?.attempts, started?.started_at], ["running", 1, isoAt(3)]);
    assert.is(await s.updateRun(run.id, ["queued"], { status: "running" }), null, "already taken");
    const done = await s.updateRun(run.id, ["running"], { status: "failed", error: "boom", finished_at: isoAt(4), updated_at: isoAt(4), artifacts: ["a.md"] });
    assert.equal(await s.getRun(run.id), done);
    assert.equal([done?.error, done?.artifacts, done?.graph, done?.incident_id], ["boom", ["a.md"], "postmortem_draft", inc.id]);
    assert.is(await s.updateRun("run_missing", ["queued"], { status: "running" }), null);
    const q1 = await s.createRun(graphRun(inc.id, { updated_at: isoAt(1) }));
    const q2 = await s.createRun(graphRun(inc.id, { updated_at: isoAt(2), graph: "incident_triage" }));
    assert.equal(ids(await s.listRuns({})), [q1.id, q2.id, run.id]);
    assert.equal(ids(await s.listRuns({ status: ["queued"], updated_before: isoAt(2) })), [q1.id]);
    assert.equal(ids(await s.listRuns({ status: ["queued", "failed"], limit: 2 })), [q1.id, q2.id]);
    assert.equal(ids(await s.listRuns({ incident_id: "inc_other" })), []);
  });

  test("export → import into a fresh store round-trips every row kind, idempotently", async () => {
    const s = await open();
    const p = bridgePolicy({ escalation: { occurrences: { P2: 2 }, open_minutes: {} } });
    await s.absorbAlerts([inp("A", "r1"), inp("A", "r2"), inp("B", "r3")], p, T0);
    await s.absorbAlerts([inp("B", "r4")], p, at(40)); // supersedes B's first incident
    const [a] = await s.list({ signature: "A" });
    await s.setStatus(a!.id, "closed", { by: "sofiia", resolution: "ok" }, at(41));
    await s.appendEvent(a!.id, { type: "followup", message: "fix", author: "sofiia", meta: { due: "2026-03-08" } }, at(42));
    await s.putArtifact(artifact(a!.id, "postmortem.md"));
    await s.createRun(graphRun(a!.id));
    const rows = await s.exportRows();
    const kinds = new Set(rows.map((r) => r.kind));
    assert.equal([...kinds].sort(), ["artifact", "event", "incident", "run", "signature"]);
    const timeline = await s.events({ incident_ids: [a!.id] });
    await h!.cleanup();
    const t = await open();
    await t.importRows(rows);
    await t.importRows(rows);
    assert.equal(sortIncidentRows(await t.exportRows()), sortIncidentRows(rows));
    assert.equal(await t.events({ incident_ids: [a!.id] }), timeline, "timeline order kept");
    // The bridge continues on the copy: replays, reopen window, open slots.
    const rs = await t.absorbAlerts([inp("A", "r1"), inp("A", "r5"), inp("B", "r6")], p, at(43));
    assert.equal(rs.map((r) => [r.action, r.replayed]), [["created", true], ["reopened", false], ["appended", false]]);
    // An older version does not overwrite a newer one.
    await t.importRows(rows);
    assert.is((await t.get(a!.id))?.status, "open");
    await t.clearRows();
    assert.equal(await t.exportRows(), []);
  });

  test("import: a signature held by two incidents (an outage fallback) goes to the newer one", async () => {
    const s = await open();
    const [old] = await s.absorbAlerts([inp("sig", "r1")], bridgePolicy(), T0);
    const fallback = new MemoryIncidentStore();
    const [fresh] = await fallback.absorbAlerts([inp("sig", "r2")], bridgePolicy(), at(5));
    await s.importRows(await fallback.exportRows());
    await s.importRows(await fallback.exportRows());
    const all = await s.list({ signature: "sig" });
    assert.equal(all.map((i) => [i.id, i.signature_key]).sort(), [[old!.incident_id, undefined], [fresh!.incident_id, "sig"]].sort());
    const [next] = await s.absorbAlerts([inp("sig", "r3"), inp("sig", "r1")], bridgePolicy(), at(6));
    assert.equal([next?.action, next?.incident_id], ["appended", fresh!.incident_id]);
  });

  test.run();
  runIncidentAbsorbConformance(name, makeStore);
  runIncidentAckConformance(name, makeStore);
}
