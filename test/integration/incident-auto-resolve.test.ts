/**
 * The auto-resolve sweep on real Postgres (a fresh database): concurrent sweeps on separate pools
 * resolve once, and a firing racing the resolve is never lost — the bridge's absorb either
 * appends to the still-open incident (the close then finds it changed) or reopens the closed one.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { IncidentStore } from "../../src/incidents/store.js";
import { PostgresIncidentStore } from "../../src/stores/incidents/postgres.js";
import { createPool } from "../../src/stores/pg.js";
import type { AlertRecord } from "../../src/subjects/index.js";
import { createTestDatabase } from "../harness/postgres.js";
import { at, isoAt } from "../conformance/fixtures.js";
import { absorbInput } from "../conformance/incidentFixtures.js";
import {
  absorbAfterReadKeepsOpen, alertRecord, autoCloses, bridge, concurrentSweepsResolveOnce, refireReopens, resolvedIncident, sweeper,
} from "../unit/incident-auto-resolve-fixtures.js";

const db = await createTestDatabase();
const opened: PostgresIncidentStore[] = [];

/** A store on its own pool, as another gateway or bridge process would have. */
async function handle(): Promise<PostgresIncidentStore> {
  const s = new PostgresIncidentStore({ pool: createPool(db.url, { max: 4 }) });
  opened.push(s);
  await s.init();
  return s;
}

test.after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await db.drop();
});

test("alertRefs reads each incident's absorbed alerts in one query", async () => {
  const store = await handle();
  const [r] = await store.absorbAlerts([absorbInput("refs", "refs-1"), absorbInput("refs", "refs-2")], bridge, at(0));
  await store.absorbAlerts([{ ...absorbInput("refs", "refs-1"), dedupe_key: "alert:refs-1:2" }], bridge, at(1));
  await store.appendEvent(r!.incident_id, { type: "followup", message: "x", author: "t", meta: { alert_ref: "not-absorbed" } }, at(2));
  const refs = await store.alertRefs([r!.incident_id, "inc_none"]);
  assert.equal(refs.get(r!.incident_id)?.sort(), ["refs-1", "refs-2"]);
  assert.equal(refs.get("inc_none"), []);
});

test("four sweeps on four pools resolve each incident once", async () => {
  const handles = [await handle(), await handle(), await handle(), await handle()];
  await concurrentSweepsResolveOnce(handles[0]!, handles);
});

test("an alert absorbed after the sweep's read keeps the incident open", async () => {
  await absorbAfterReadKeepsOpen(await handle());
});

test("a firing inside the reopen window reopens the resolved incident", async () => {
  await refireReopens(await handle());
});

test("absorb racing the resolve (separate pools, same instant): every firing lands on an open incident", async () => {
  const [sweepStore, bridgeStore] = [await handle(), await handle()];
  const alerts = new Map<string, AlertRecord>();
  const outcomes = { appended: 0, reopened: 0, created: 0 };
  let resolvedBySweeps = 0;
  for (let round = 0; round < 5; round++) {
    const sigs = Array.from({ length: 20 }, (_, i) => `race${round}-${i}`);
    const ids = await Promise.all(sigs.map((sig) => resolvedIncident(bridgeStore, alerts, sig)));
    // The new firing is stored (ingest) before the bridge absorbs it, as in production.
    for (const sig of sigs) alerts.set(`${sig}-new`, alertRecord(`${sig}-new`, { ends_at: isoAt(60) }));
    const s = sweeper(sweepStore, alerts, { now: at(15) });
    const absorbs = sigs.map((sig) => bridgeStore.absorbAlerts([absorbInput(sig, `${sig}-new`)], bridge, at(15)));
    const [summary, ...results] = await Promise.all([s.sweep(), ...absorbs]);
    resolvedBySweeps += summary.resolved.length;
    for (const [i, [r]] of results.entries()) {
      const sig = sigs[i]!;
      assert.is(r!.incident_id, ids[i], `${sig}: the firing went to its incident (appended or reopened), not a new one`);
      outcomes[r!.action]++;
      const inc = (await sweepStore.get(ids[i]!))!;
      assert.is(inc.status, "open", `${sig}: open after the race`);
      assert.ok((await sweepStore.alertRefs([inc.id])).get(inc.id)!.includes(`${sig}-new`), `${sig}: the firing is on its timeline`);
      const closes = (await autoCloses(sweepStore, inc.id)).length;
      assert.is(closes, r!.action === "reopened" ? 1 : 0, `${sig}: closed once iff the absorb reopened it`);
      assert.is((await sweepStore.signatureState(sig))!.open_incident_id, inc.id);
    }
    assert.is(s.published.length, summary.resolved.length, "one incident.resolved per close");
  }
  assert.is(outcomes.reopened, resolvedBySweeps, "every close the sweep made was reopened by its racing firing");
  console.log(`race outcomes over 100 incidents: ${JSON.stringify(outcomes)}`);
});

test.run();
