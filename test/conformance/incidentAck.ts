/**
 * Acknowledgement in the IncidentStore contract, run against every backend from
 * runIncidentStoreConformance: acknowledge / unacknowledge with their timeline events, idempotent,
 * refused on a closed incident; a reopen (by an alert, or by hand) clears the ack; the fields
 * survive export → import.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { OpsError } from "../../src/errors.js";
import type { IncidentStore } from "../../src/incidents/store.js";
import { at, isoAt, T0, type MakeStore, type StoreHandle } from "./fixtures.js";
import { absorbInput as inp, bridgePolicy, newIncident } from "./incidentFixtures.js";

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.instance(err, OpsError);
  return (err as OpsError).code;
}

export function runIncidentAckConformance(name: string, makeStore: MakeStore<IncidentStore>): void {
  const test = suite(`${name} IncidentStore acknowledgement`);
  let h: StoreHandle<IncidentStore> | undefined;
  const open = async () => (h = await makeStore()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });

  test("acknowledge: sets who and when with an event; again changes nothing and keeps the first", async () => {
    const s = await open();
    const inc = await s.create(newIncident(), T0);
    const first = await s.acknowledge(inc.id, "helion", at(1), { note: "  looking  ", meta: { via: "test" } });
    assert.equal([first.changed, first.incident.acknowledged_at, first.incident.acknowledged_by, first.incident.updated_at], [true, isoAt(1), "helion", isoAt(1)]);
    assert.equal([first.event?.type, first.event?.author, first.event?.message], ["acknowledged", "helion", "acknowledged by helion: looking"]);
    assert.equal(first.event?.meta, { via: "test", acknowledged_at: isoAt(1), note: "looking" });
    assert.equal(await s.get(inc.id), first.incident);
    const again = await s.acknowledge(inc.id, "sofiia", at(2));
    assert.equal([again.changed, "event" in again && again.event !== undefined, again.incident], [false, false, first.incident]);
    assert.equal((await s.events({ incident_ids: [inc.id], type: "acknowledged" })).map((e) => e.id), [first.event!.id]);
    assert.is(await code(s.acknowledge("inc_missing", "helion", T0)), "not_found");
    assert.is(await code(s.acknowledge(inc.id, "", at(3))), "invalid_request");
  });

  test("unacknowledge: clears it with an event naming the old ack; on an unacked incident a no-op", async () => {
    const s = await open();
    const inc = await s.create(newIncident(), T0);
    const none = await s.unacknowledge(inc.id, "helion", at(1));
    assert.equal([none.changed, none.event, none.incident.updated_at], [false, undefined, isoAt(0)]);
    await s.acknowledge(inc.id, "helion", at(2));
    const un = await s.unacknowledge(inc.id, "sofiia", at(3), { note: "handing over" });
    assert.equal([un.changed, "acknowledged_at" in un.incident, "acknowledged_by" in un.incident, un.incident.updated_at], [true, false, false, isoAt(3)]);
    assert.equal([un.event?.type, un.event?.author, un.event?.meta], ["unacknowledged", "sofiia", { acknowledged_at: isoAt(2), acknowledged_by: "helion", note: "handing over" }]);
    assert.equal(await s.get(inc.id), un.incident);
    const re = await s.acknowledge(inc.id, "sofiia", at(4));
    assert.equal([re.changed, re.incident.acknowledged_by], [true, "sofiia"]);
    assert.equal((await s.events({ incident_ids: [inc.id] })).map((e) => e.type), ["created", "acknowledged", "unacknowledged", "acknowledged"]);
    assert.is(await code(s.unacknowledge("inc_missing", "helion", T0)), "not_found");
  });

  test("a closed incident: acknowledge and unacknowledge refused (invalid_request); a close keeps the ack", async () => {
    const s = await open();
    const inc = await s.create(newIncident(), T0);
    await s.acknowledge(inc.id, "helion", at(1));
    const closed = await s.setStatus(inc.id, "closed", { by: "helion", resolution: "fixed" }, at(2));
    assert.equal([closed.acknowledged_at, closed.acknowledged_by], [isoAt(1), "helion"]);
    const err = await s.acknowledge(inc.id, "sofiia", at(3)).then(() => undefined, (e: unknown) => e as OpsError);
    assert.equal([err?.code, /closed/.test(err?.message ?? "")], ["invalid_request", true]);
    assert.is(await code(s.unacknowledge(inc.id, "sofiia", at(3))), "invalid_request");
    assert.equal(await s.get(inc.id), closed, "nothing changed");
    const mit = await s.create(newIncident(), at(4));
    await s.setStatus(mit.id, "mitigating", { by: "helion" }, at(5));
    assert.ok((await s.acknowledge(mit.id, "helion", at(6))).changed, "a mitigating incident can be acknowledged");
  });

  test("a reopen clears the ack: by an alert inside the reopen window, and by hand", async () => {
    const s = await open();
    const [r] = await s.absorbAlerts([inp("sig", "r1")], bridgePolicy(), T0);
    const id = r!.incident_id;
    await s.acknowledge(id, "helion", at(1));
    const [appended] = await s.absorbAlerts([inp("sig", "r2")], bridgePolicy(), at(2));
    assert.is(appended?.action, "appended");
    assert.is((await s.get(id))?.acknowledged_by, "helion", "a new alert on an open incident keeps the ack");
    await s.setStatus(id, "closed", { by: "helion" }, at(3));
    const [reopened] = await s.absorbAlerts([inp("sig", "r3")], bridgePolicy(), at(10));
    assert.equal([reopened?.action, reopened?.incident_id], ["reopened", id]);
    const after = await s.get(id);
    assert.equal([after?.status, "acknowledged_at" in after!, "acknowledged_by" in after!], ["open", false, false]);
    assert.ok((await s.acknowledge(id, "sofiia", at(11))).changed, "the reopened incident can be acknowledged again");

    await s.setStatus(id, "closed", { by: "sofiia" }, at(12));
    const byHand = await s.setStatus(id, "open", { by: "sofiia" }, at(13));
    assert.equal(["acknowledged_at" in byHand, (await s.get(id))?.acknowledged_by], [false, undefined]);
  });

  test("the ack survives export → import", async () => {
    const s = await open();
    const inc = await s.create(newIncident(), T0);
    const { incident } = await s.acknowledge(inc.id, "helion", at(1));
    const rows = await s.exportRows();
    await h!.cleanup();
    const t = await open();
    await t.importRows(rows);
    assert.equal(await t.get(inc.id), incident);
    assert.equal((await t.events({ incident_ids: [inc.id] })).map((e) => e.type), ["created", "acknowledged"]);
  });

  test.run();
}
