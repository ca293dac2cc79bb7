/** JSONL-only behaviour of the incident store: reload after close, a torn last line, compaction. */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { JsonlIncidentStore } from "../../src/stores/incidents/jsonl.js";
import { captureLogger } from "../harness/logs.js";
import { at, T0 } from "./fixtures.js";
import { absorbInput as inp, artifact, bridgePolicy, graphRun, sortIncidentRows } from "./incidentFixtures.js";

export function runIncidentJsonlFiles(tempDir: () => string): void {
  const test = suite("jsonl incident files");
  const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);
  async function openAt(path: string, logger = captureLogger().logger, minDeadLines?: number) {
    const store = new JsonlIncidentStore({ path, logger, ...(minDeadLines !== undefined ? { minDeadLines } : {}) });
    await store.init();
    return store;
  }

  test("incidents survive close and reopen, with signature state, dedupe keys and slots", async () => {
    const path = join(tempDir(), "incidents.jsonl");
    const a = await openAt(path);
    const [r] = await a.absorbAlerts([inp("sig", "r1"), inp("sig", "r2"), inp("other", "r3")], bridgePolicy(), T0);
    await a.putArtifact(artifact(r!.incident_id, "triage_report.md"));
    await a.createRun(graphRun(r!.incident_id));
    await a.appendEvent(r!.incident_id, { type: "note", message: "looking", author: "sofiia", dedupe_key: "n1" }, at(1));
    const before = sortIncidentRows(await a.exportRows());
    const timeline = await a.events({});
    await a.close();
    for (const line of lines(path)) assert.ok(["incident", "event", "artifact", "signature", "run"].includes(JSON.parse(line).kind));

    const b = await openAt(path);
    assert.equal(sortIncidentRows(await b.exportRows()), before);
    assert.equal(await b.events({}), timeline);
    const [replay, more] = await b.absorbAlerts([inp("sig", "r1"), inp("sig", "r4")], bridgePolicy(), at(2));
    assert.equal([replay?.replayed, more?.action, more?.incident_id], [true, "appended", r!.incident_id]);
    assert.is((await b.appendEvent(r!.incident_id, { type: "note", message: "x", author: "a", dedupe_key: "n1" }, at(3))).replayed, true);
    // The slot came back too: a hand-made incident with the signature does not take it.
    const manual = await b.create({ service: "s", env: "prod", severity: "P3", title: "t", created_by: "sofiia", signature: "sig" }, at(3));
    assert.not.ok("signature_key" in manual);
    await b.close();
  });

  test("a torn last line is ignored, cut off, and the next append works", async () => {
    const path = join(tempDir(), "incidents.jsonl");
    const a = await openAt(path);
    await a.absorbAlerts([inp("sig", "r1")], bridgePolicy(), T0);
    const before = sortIncidentRows(await a.exportRows());
    await a.close();
    appendFileSync(path, '{"kind":"incident","data":{"id":"inc_torn","serv'); // kill -9 mid-write

    const cap = captureLogger();
    const b = await openAt(path, cap.logger);
    assert.equal(sortIncidentRows(await b.exportRows()), before);
    assert.match(cap.text(), /torn last line/);
    const [r] = await b.absorbAlerts([inp("sig2", "r2")], bridgePolicy(), at(1));
    await b.close();
    const text = readFileSync(path, "utf8");
    assert.ok(text.endsWith("\n"));
    assert.not.match(text, /inc_torn/);
    const c = await openAt(path);
    assert.is((await c.get(r!.incident_id))?.signature_key, "sig2");
    await c.close();
  });

  test("repeated absorbs are compacted: one line per record, state intact after reload", async () => {
    const path = join(tempDir(), "incidents.jsonl");
    const a = await openAt(path, undefined, 10);
    for (let i = 0; i < 40; i++) await a.absorbAlerts([inp("sig", `r${i}`)], bridgePolicy(), at(i / 10));
    const live = (await a.exportRows()).length;
    assert.ok(lines(path).length <= 2 * live + 10, `file has ${lines(path).length} lines for ${live} records`);
    const [inc] = await a.list({});
    await a.close();
    const b = await openAt(path);
    assert.is((await b.get(inc!.id))?.alert_count, 40);
    assert.is((await b.events({ incident_ids: [inc!.id] })).length, 41);
    await b.close();
  });

  test.run();
}
