import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IncidentIntelligence } from "../../src/config/policies.js";
import { correlate, levelOf, median, recurrence, trendOf, weeklyDigest } from "../../src/incidents/intelligence.js";
import { at, followup, MemoryIncidentStore, policy, seed, tmpDir } from "./incident-fixtures.js";

const SIG = "gateway|prod|error_rate";

async function correlationWorld() {
  const store = new MemoryIncidentStore();
  const s = (o: Parameters<typeof seed>[1]) => seed(store, o);
  const target = await s({ service: "gateway", kind: "error_rate", signature: SIG, started_at: "2026-03-10T12:00:00Z" });
  const ids = {
    A: (await s({ service: "gateway", kind: "error_rate", signature: SIG, started_at: "2026-03-10T10:00:00Z", closed_at: "2026-03-10T11:00:00Z", resolution: "rolled back" })).id,
    B: (await s({ service: "gateway", kind: "error_rate", signature: SIG, started_at: "2026-03-03T12:00:00Z", closed_at: "2026-03-03T13:00:00Z" })).id,
    C: (await s({ service: "billing", kind: "error_rate", started_at: "2026-03-10T13:00:00Z" })).id,
    D: (await s({ service: "gateway", kind: "latency", started_at: "2026-03-01T12:00:00Z" })).id,
    E: (await s({ service: "billing", kind: "crash", started_at: "2026-03-10T11:30:00Z" })).id,
    F: (await s({ service: "billing", kind: "crash", started_at: "2026-03-05T12:00:00Z" })).id,
    G: (await s({ service: "gateway", kind: "error_rate", signature: SIG, started_at: "2026-01-29T12:00:00Z" })).id,
    H: (await s({ service: "search", kind: "latency", started_at: "2026-03-10T16:00:00Z" })).id,
  };
  return { store, target, ids };
}

test("correlate: scores are the sum of the reasons' weights (capped at 100), best first, then most recent", async () => {
  const { store, target, ids } = await correlationWorld();
  const r = await correlate(store, target.id, policy.correlation, at("2026-03-10T18:00:00Z"));
  assert.equal(
    r.related.map((x) => [x.incident_id, x.score, x.reasons]),
    [
      [ids.A, 100, ["same_signature", "same_service", "same_kind", "time_proximity"]], // 125 → 100
      [ids.B, 100, ["same_signature", "same_service", "same_kind"]],
      [ids.C, 40, ["same_kind", "time_proximity"]],
      [ids.E, 25, ["time_proximity"]], // newer than D
      [ids.D, 25, ["same_service"]],
    ],
  );
  // F (0 points), G (outside the 30-day lookback), H (4 h apart, nothing shared) and the incident itself are absent.
  assert.is(r.related[0]!.resolution, "rolled back");
  assert.is(r.related[0]!.minutes_apart, 120);
  // Read: A, B (signature), D (service), C, E (within 180 min); F and H share nothing that is indexed.
  assert.is(r.candidates, 5);
});

test("correlate: min_score and max_related from the policy; unknown incident is not_found", async () => {
  const { store, target, ids } = await correlationWorld();
  const now = at("2026-03-10T18:00:00Z");
  const strict = IncidentIntelligence.parse({ correlation: { min_score: 30 } }).correlation;
  assert.equal((await correlate(store, target.id, strict, now)).related.map((x) => x.incident_id), [ids.A, ids.B, ids.C]);
  const two = IncidentIntelligence.parse({ correlation: { max_related: 2 } }).correlation;
  assert.equal((await correlate(store, target.id, two, now)).related.map((x) => x.incident_id), [ids.A, ids.B]);
  try {
    await correlate(store, "inc_20260310_1200_000000", policy.correlation, now);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, "not_found");
  }
});

test("trend and level helpers", () => {
  assert.equal([trendOf(3, 0), trendOf(3, 1), trendOf(1, 3), trendOf(2, 2), trendOf(0, 0)], ["new", "up", "down", "flat", "flat"]);
  assert.equal([2, 3, 5, 6, 9].map((n) => levelOf(n, policy.recurrence)), ["ok", "warn", "warn", "high", "high"]);
  assert.equal([median([]), median([5]), median([120, 30, 5760]), median([1, 2, 3, 10])], [null, 5, 120, 2.5]);
});

test("recurrence: counts in the window vs the previous window, trend, level, min_count", async () => {
  const store = new MemoryIncidentStore();
  const put = async (service: string, signature: string | undefined, starts: string[]) => {
    for (const started_at of starts) await seed(store, { service, ...(signature ? { signature } : {}), started_at });
  };
  // Window [03-03, 03-10), previous [02-24, 03-03).
  await put("gateway", "S1", ["2026-03-03T00:00:00Z", "2026-03-04T01:00:00Z", "2026-03-05T01:00:00Z", "2026-03-06T01:00:00Z", "2026-03-07T01:00:00Z", "2026-03-09T23:59:59Z"]);
  await put("gateway", "S1", ["2026-02-25T01:00:00Z", "2026-03-10T00:00:00Z" /* = now: outside */]);
  await put("gateway", undefined, ["2026-03-08T01:00:00Z"]);
  await put("billing", "S2", ["2026-03-04T02:00:00Z", "2026-03-05T02:00:00Z", "2026-02-25T02:00:00Z", "2026-02-26T02:00:00Z"]);
  await put("search", "S3", ["2026-02-25T03:00:00Z", "2026-02-26T03:00:00Z", "2026-02-27T03:00:00Z"]);
  await put("auth", "S4", ["2026-03-04T04:00:00Z", "2026-03-05T04:00:00Z"]);
  await put("cache", "S5", ["2026-03-04T05:00:00Z"]);
  await put("queue", "S6", ["2026-03-04T06:00:00Z", "2026-03-05T06:00:00Z", "2026-02-24T06:00:00Z", "2026-02-25T06:00:00Z", "2026-02-26T06:00:00Z", "2026-02-27T06:00:00Z"]);
  await put("queue", "S6", ["2026-02-23T23:00:00Z" /* before the previous window */]);

  const r = await recurrence(store, 7, policy.recurrence, at("2026-03-10T00:00:00Z"));
  assert.equal([r.total_incidents, r.previous_total], [14, 10]);
  assert.equal([r.from, r.previous_from], ["2026-03-03T00:00:00.000Z", "2026-02-24T00:00:00.000Z"]);
  const rows = (es: typeof r.signatures) => es.map((e) => [e.key, e.count, e.previous_count, e.trend, e.level]);
  assert.equal(rows(r.signatures), [
    ["S1", 6, 1, "up", "high"],
    ["S2", 2, 2, "flat", "ok"],
    ["S4", 2, 0, "new", "ok"],
    ["S6", 2, 4, "down", "ok"],
  ]);
  assert.equal(rows(r.services), [
    ["gateway", 7, 1, "up", "high"],
    ["auth", 2, 0, "new", "ok"],
    ["billing", 2, 2, "flat", "ok"],
    ["queue", 2, 4, "down", "ok"],
  ]);
  assert.is(r.signatures[0]!.last_started_at, "2026-03-09T23:59:59.000Z");
});

/** Week 2026-W10 is 2026-03-02 (Mon) .. 2026-03-09 (Mon, exclusive). */
async function digestWorld() {
  const store = new MemoryIncidentStore();
  const I1 = await seed(store, { service: "gateway", severity: "P1", signature: "gw", started_at: "2026-03-02T01:00:00Z", closed_at: "2026-03-02T03:00:00Z" });
  const I2 = await seed(store, { service: "gateway", severity: "P2", signature: "gw", started_at: "2026-03-04T10:00:00Z", closed_at: "2026-03-04T10:30:00Z" });
  const I3 = await seed(store, { service: "billing", severity: "P0", started_at: "2026-03-06T12:00:00Z" });
  const I4 = await seed(store, { service: "billing", severity: "P3", started_at: "2026-02-27T12:00:00Z", closed_at: "2026-03-03T12:00:00Z" });
  const I5 = await seed(store, { service: "search", severity: "P2", started_at: "2026-02-20T00:00:00Z" });
  const I6 = await seed(store, { service: "gateway", severity: "P2", signature: "gw", started_at: "2026-03-08T23:59:00Z", closed_at: "2026-03-10T01:00:00Z" });
  await seed(store, { service: "auth", severity: "P1", started_at: "2026-03-09T00:00:00Z" }); // next week
  await seed(store, { service: "gateway", severity: "P3", signature: "gw", started_at: "2026-02-25T00:00:00Z", closed_at: "2026-02-26T00:00:00Z" });
  const fu = (id: string, m: Parameters<typeof followup>[2], ts: string) => followup(store, id, m, ts);
  await fu(I1.id, { followup_id: "fu1", title: "Alert on 5xx", owner: "helion", due_date: "2026-03-05" }, "2026-03-02T04:00:00Z");
  await fu(I1.id, { followup_id: "fu2", title: "Runbook", owner: "sofiia", due_date: "2026-03-05" }, "2026-03-02T04:01:00Z");
  await fu(I1.id, { followup_id: "fu2", status: "done" }, "2026-03-06T09:00:00Z");
  await fu(I3.id, { followup_id: "fu3", title: "Capacity", owner: "billing-team", due_date: "2026-03-07" }, "2026-03-06T13:00:00Z");
  await fu(I3.id, { followup_id: "fu3", status: "done" }, "2026-03-10T09:00:00Z"); // after the week: still open at its end
  await fu(I6.id, { followup_id: "fu4", title: "Retry budget", owner: "helion", due_date: "2026-03-20" }, "2026-03-08T23:00:00Z");
  return { store, I1, I2, I3, I4, I5, I6 };
}

test("weekly digest: hand-computed counts for a seeded week, files written atomically", async () => {
  const { store, I1, I2, I3, I4, I6 } = await digestWorld();
  const reportsDir = tmpDir("reports");
  const now = at("2026-03-11T08:00:00Z");
  const d = await weeklyDigest(store, { reportsDir, save_artifacts: true }, policy, now);
  assert.is(d.week, "2026-10");
  assert.equal([d.from, d.to], ["2026-03-02T00:00:00.000Z", "2026-03-09T00:00:00.000Z"]);
  assert.equal(d.totals, {
    opened: 4, // I1, I2, I3, I6
    closed: 3, // I1, I2, I4
    still_open: 3, // I3, I5, I6 (closed after the week)
    by_severity: { P0: 1, P1: 1, P2: 2, P3: 0 },
    by_service: { gateway: 3, billing: 1 },
    mttr_minutes: 120, // median of 120, 30, 5760
  });
  assert.equal(d.top_incidents.map((i) => i.incident_id), [I3.id, I1.id, I6.id, I2.id, I4.id]);
  assert.equal(d.top_incidents.map((i) => i.duration_minutes), [3600, 120, 1, 30, 5760]);
  assert.equal(d.recurrence.signatures.map((e) => [e.key, e.count, e.previous_count, e.trend, e.level]), [["gw", 3, 1, "up", "warn"]]);
  assert.equal(d.recurrence.services.map((e) => [e.key, e.count, e.previous_count, e.trend, e.level]), [["gateway", 3, 1, "up", "warn"]]);
  assert.equal([d.followups.open_count, d.followups.overdue_count], [3, 2]);
  assert.equal(d.followups.overdue.map((o) => [o.followup_id, o.incident_id, o.severity, o.days_overdue]), [
    ["fu1", I1.id, "P1", 4],
    ["fu3", I3.id, "P0", 2],
  ]);

  const json = join(reportsDir, "incidents", "weekly", "2026-10.json");
  const md = join(reportsDir, "incidents", "weekly", "2026-10.md");
  assert.equal(d.files, { json, md });
  const { files: _files, ...digest } = d;
  assert.equal(JSON.parse(readFileSync(json, "utf8")), digest);
  const text = readFileSync(md, "utf8");
  for (const needle of ["# Weekly incident digest 2026-10", "Opened: **4**", "Still open at week end: **3**", I3.id, "Alert on 5xx"]) {
    assert.ok(text.includes(needle), needle);
  }

  // The same week named explicitly gives the same digest; save_artifacts false writes nothing.
  const again = await weeklyDigest(store, { week: "2026-W10", reportsDir: tmpDir("reports"), save_artifacts: false }, policy, now);
  assert.is(again.files, null);
  assert.equal(again.totals, d.totals);
});

test("weekly digest: an empty week and a markdown cap", async () => {
  const reportsDir = tmpDir("reports");
  const d = await weeklyDigest(new MemoryIncidentStore(), { week: "2026-53", reportsDir, save_artifacts: true }, policy, at("2027-01-05T00:00:00Z"));
  assert.equal([d.totals.opened, d.totals.closed, d.totals.still_open, d.totals.mttr_minutes], [0, 0, 0, null]);
  assert.ok(existsSync(join(reportsDir, "incidents", "weekly", "2026-53.md")));
  const { store } = await digestWorld();
  const tiny = IncidentIntelligence.parse({ digest: { markdown_max_chars: 1000 } });
  const capped = await weeklyDigest(store, { week: "2026-10", reportsDir, save_artifacts: true }, tiny, at("2026-03-11T08:00:00Z"));
  const text = readFileSync(capped.files!.md, "utf8");
  assert.ok(text.length <= 1000 && text.includes("truncated"), String(text.length));
});

test.run();
