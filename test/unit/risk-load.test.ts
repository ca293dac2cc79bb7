/** The risk/pressure loaders: time-sliced incident scans (ties, gaps, open-ended) and both load paths agreeing. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scanIncidents } from "../../src/risk/incident-scan.js";
import { loadIncidentData } from "../../src/risk/load.js";
import { MemoryIncidentStore } from "../../src/stores/incidents/memory.js";
import type { IncidentRecord, IncidentRow, IncidentStore } from "../../src/incidents/store.js";
import { NOW, seedDataset } from "./risk-fixtures.js";

const T = Date.parse("2026-03-01T00:00:00Z");

function incident(i: number, startedMs: number, status: IncidentRecord["status"] = "closed"): IncidentRow {
  const started = new Date(startedMs).toISOString();
  return {
    kind: "incident",
    data: {
      id: `inc_20260301_0000_${i.toString(16).padStart(6, "0")}`, service: `svc${i % 3}`, env: "prod", severity: "P2", title: "t", status,
      started_at: started, created_at: started, updated_at: started, created_by: "t", alert_count: 0, reopened_count: 0, labels: {},
    },
  };
}

/** Store calls counted, and `ping` present: the loaders take the Postgres path. */
function remote(store: MemoryIncidentStore): IncidentStore & { calls: number } {
  const wrapped = Object.create(store) as IncidentStore & { calls: number; ping(): Promise<void> };
  wrapped.calls = 0;
  wrapped.list = (q) => (wrapped.calls++, store.list(q));
  wrapped.events = (q) => (wrapped.calls++, store.events(q));
  wrapped.ping = async () => {};
  return wrapped;
}

test("scanIncidents reads every incident of the range once: dense ties, gaps, open-ended", async () => {
  const store = new MemoryIncidentStore();
  const rows: IncidentRow[] = [];
  let i = 0;
  // 1500 within 3 ms (500 per ms): slices halve down to single milliseconds. (More than a page in
  // ONE millisecond cannot be read through list() at all; the store caps each call at 1000.)
  for (let k = 0; k < 1500; k++) rows.push(incident(i++, T + (k % 3)));
  for (let k = 0; k < 3000; k++) rows.push(incident(i++, T + 86_400_000 + k * 60_000, k % 7 === 0 ? "open" : "closed"));
  for (let k = 0; k < 50; k++) rows.push(incident(i++, T - 300 * 86_400_000 - k * 1000, "open")); // far older, after a gap
  await store.importRows(rows);
  const all = rows.map((r) => r.data as IncidentRecord);
  const ids = (xs: IncidentRecord[]) => xs.map((x) => x.id).sort();
  const until = new Date(T + 10 * 86_400_000);

  const s = remote(store);
  const ranged = await scanIncidents(s, {}, { since: new Date(T), until });
  assert.equal(ids(ranged), ids(all.filter((x) => Date.parse(x.started_at) >= T)));
  // Skewed on purpose (a 3 ms burst): halving down to it costs some calls, still far from per incident.
  assert.ok(s.calls < 100, `${s.calls} calls for 4,500 incidents`);

  const open = await scanIncidents(s, { status: "open" }, { until });
  assert.equal(ids(open), ids(all.filter((x) => x.status === "open")));
  const everything = await scanIncidents(s, {}, { until });
  assert.is(everything.length, all.length);
  assert.equal(await scanIncidents(s, {}, { until: new Date(T - 400 * 86_400_000) }), []);
});

test("a uniform range is read in about incidents / 800 calls", async () => {
  const store = new MemoryIncidentStore();
  await store.importRows(Array.from({ length: 8000 }, (_, k) => incident(k, T + k * 60_000)));
  const s = remote(store);
  const got = await scanIncidents(s, {}, { since: new Date(T), until: new Date(T + 8000 * 60_000) });
  assert.is(new Set(got.map((x) => x.id)).size, 8000);
  assert.ok(s.calls <= 14, `${s.calls} calls`);
});

test("both load paths (one pass in process; slices + events by type) give the same incidents and follow-ups", async () => {
  const { incidents } = await seedDataset();
  const since = new Date(NOW.getTime() - 7 * 86_400_000);
  const until = new Date(NOW.getTime() + 1);
  const local = await loadIncidentData(incidents, since, until, {});
  const viaSlices = await loadIncidentData(remote(incidents), since, until, {});
  const key = (d: typeof local) => [d.incidents.map((i) => i.id).sort(), d.followupEvents.map((e) => e.id).sort()];
  assert.equal(key(viaSlices), key(local));
  // open ones whatever their age, closed ones only when started since `since`
  assert.ok(local.incidents.every((i) => i.status !== "closed" || Date.parse(i.started_at) >= since.getTime()));
  assert.is(local.followupEvents.length, 4, "fu2, fu3 ×2, fu4 (fu1's incident is closed and older)");
  const gw = await loadIncidentData(remote(incidents), since, until, { service: "gateway" });
  assert.ok(gw.incidents.length > 0 && gw.incidents.every((i) => i.service === "gateway"));
});

test.run();
