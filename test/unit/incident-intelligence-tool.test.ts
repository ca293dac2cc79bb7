import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EventPublisher } from "../../src/nats/events.js";
import { subjects } from "../../src/subjects/index.js";
import { createIncidentIntelligenceTool } from "../../src/tools/incident-intelligence-tool.js";
import { errorOf, resultOf, toolCaller } from "./gateway-fixtures.js";
import { MemoryIncidentStore, policy, seed, tmpDir } from "./incident-fixtures.js";

const NOW = Date.parse("2026-03-10T18:00:00.000Z");

async function setup() {
  const store = new MemoryIncidentStore();
  const published: string[] = [];
  const js = { async publish(subject: string) { published.push(subject); return { seq: 1, duplicate: false, stream: "OPS_EVENTS" }; } };
  const reportsDir = tmpDir("reports");
  const tool = createIncidentIntelligenceTool({
    incidents: store,
    policy,
    reportsDir,
    events: new EventPublisher(js as unknown as JetStreamClient, subjects(), "n1", () => new Date(NOW)),
  });
  const { call } = toolCaller(tool, () => new Date(NOW));
  const sig = "gateway|prod|latency";
  const target = await seed(store, { kind: "latency", signature: sig, started_at: "2026-03-10T12:00:00Z" });
  const prior = await seed(store, { kind: "latency", signature: sig, started_at: "2026-03-09T12:00:00Z", closed_at: "2026-03-09T13:00:00Z" });
  return { store, call, target, prior, reportsDir, published };
}

test("correlate reads for everyone; append_note needs tools.incidents.write", async () => {
  const { call, target, prior, store, published } = await setup();
  const r = resultOf<{ related: Array<{ incident_id: string; score: number }> }>(await call("aistalk", "correlate", { incident_id: target.id }));
  assert.equal(r.related.map((x) => [x.incident_id, x.score]), [[prior.id, 100]]);
  const denied = errorOf(await call("monitor", "correlate", { incident_id: target.id, append_note: true }));
  assert.equal([denied.code, (denied.details as { entitlement: string }).entitlement], ["forbidden", "tools.incidents.write"]);
  assert.is((await store.events({ incident_ids: [target.id], type: "note" })).length, 0);
  const noted = resultOf<{ note_event_id: string }>(await call("helion", "correlate", { incident_id: target.id, append_note: true }));
  const notes = await store.events({ incident_ids: [target.id], type: "note" });
  assert.equal(notes.map((n) => n.id), [noted.note_event_id]);
  assert.match(notes[0]!.message, prior.id);
  assert.is(notes[0]!.author, "helion");
  assert.equal(published, ["ops.events.incident.updated"]);
  assert.is(errorOf(await call("helion", "correlate", { incident_id: "inc_20260310_1200_000000" })).code, "not_found");
});

test("recurrence for readers; weekly_digest only for writers (CTO, on-call, scheduler)", async () => {
  const { call, reportsDir } = await setup();
  const rec = resultOf<{ window_days: number; signatures: Array<{ key: string; count: number }> }>(await call("aistalk", "recurrence", {}));
  assert.equal([rec.window_days, rec.signatures.map((s) => [s.key, s.count])], [7, [["gateway|prod|latency", 2]]]);
  assert.is(errorOf(await call("aistalk", "recurrence", { window_days: 0 })).code, "invalid_request");
  for (const agent of ["monitor", "aistalk", "someone"]) assert.is(errorOf(await call(agent, "weekly_digest", {})).code, "forbidden");
  const d = resultOf<{ week: string; totals: { opened: number }; files: { json: string } }>(await call("scheduler", "weekly_digest", { week: "2026-11" }));
  assert.equal([d.week, d.totals.opened, d.files.json], ["2026-11", 2, join(reportsDir, "incidents", "weekly", "2026-11.json")]);
  assert.ok(existsSync(d.files.json));
  const dflt = resultOf<{ week: string; files: null }>(await call("sofiia", "weekly_digest", { save_artifacts: false }));
  assert.equal([dflt.week, dflt.files], ["2026-10", null]);
  assert.is(errorOf(await call("sofiia", "weekly_digest", { week: "2026-54" })).code, "invalid_request");
});

test.run();
