/**
 * A hand-made incident's id: `inc_<minute>_<6 hex>` gives three random bytes per minute, which a
 * few thousand incidents in one minute draw twice with a fair chance (one in four at 3,000), so
 * the plan draws again while the store says the id is taken instead of writing over the other.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planCreate } from "../../src/incidents/write-plans.js";

const now = new Date("2026-03-01T12:00:30Z");
const input = { service: "checkout", env: "prod" as const, severity: "P2" as const, title: "5xx", created_by: "sofiia" };

test("an id the store holds is drawn again, until a free one", () => {
  const asked: string[] = [];
  const w = planCreate(input, undefined, false, now, (id) => (asked.push(id), asked.length < 4));
  assert.is(asked.length, 4, "three taken ids, then a free one");
  assert.is(w.incident.id, asked[3]);
  assert.match(w.incident.id, /^inc_20260301_1200_[0-9a-f]{6}$/);
  assert.is(w.event.incident_id, w.incident.id, "the created event names the id kept");
});

test("without a store to ask, the first id drawn is kept", () => {
  assert.match(planCreate(input, undefined, false, now).incident.id, /^inc_20260301_1200_[0-9a-f]{6}$/);
});

test.run();
