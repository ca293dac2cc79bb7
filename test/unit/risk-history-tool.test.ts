/**
 * risk_history_tool through the gateway's execute path on the seeded dataset: snapshot idempotent
 * within the hour, digest deltas and files, series, cleanup retention, dry_run writing nothing, RBAC.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RiskDigestResult, SnapshotResult } from "../../src/risk/history.js";
import { createRiskHistoryTool } from "../../src/tools/risk-history-tool.js";
import { errorOf, resultOf, toolCaller } from "./gateway-fixtures.js";
import { seed, tmpDir } from "./incident-fixtures.js";
import { attribution, historyRow, HOUR_MS, minus, NOW, riskPolicy, seedDataset } from "./risk-fixtures.js";

async function setup() {
  const data = await seedDataset();
  const reportsDir = tmpDir("risk-reports");
  let now = NOW;
  const tool = createRiskHistoryTool({ ...data, policy: riskPolicy, attribution, reportsDir });
  const gw = toolCaller(tool, () => now);
  const call = (action: string, params: Record<string, unknown> = {}, agent_id = "scheduler") => gw.call(agent_id, action, params);
  return { ...data, reportsDir, call, setNow: (d: Date) => void (now = d) };
}

test("snapshot stores every service once per hour; a second run in the hour keeps the first", async () => {
  const s = await setup();
  const first = resultOf<SnapshotResult>(await s.call("snapshot"));
  assert.equal([first.hour, first.inserted, first.existing], ["2026-03-10T12:00:00.000Z", 5, 0]);
  assert.equal(first.snapshots.map((x) => [x.service, x.score, x.stored]).slice(0, 2), [["gateway", 71, "inserted"], ["auth", 44, "inserted"]]);

  // A new P1 on auth half an hour later would change its score, but the hour already has one.
  await seed(s.incidents, { service: "auth", severity: "P1", started_at: "2026-03-10T12:20:00Z" });
  s.setNow(new Date(NOW.getTime() + 30 * 60_000));
  const again = resultOf<SnapshotResult>(await s.call("snapshot"));
  assert.equal([again.inserted, again.existing], [0, 5]);
  assert.is(again.snapshots.find((x) => x.service === "auth")?.score, 44, "the stored snapshot is answered");
  assert.is((await s.history.list({})).length, 5);

  s.setNow(new Date(NOW.getTime() + HOUR_MS));
  const next = resultOf<SnapshotResult>(await s.call("snapshot"));
  assert.equal([next.hour, next.inserted], ["2026-03-10T13:00:00.000Z", 5]);
  // auth now: two open P1 = 50, capped at 40; 2 incidents in 7 d → recurrence 2 × 5 = 10; + 15 (slo) + 4 (rate) = 69
  assert.is(next.snapshots.find((x) => x.service === "auth")?.score, 69);
  assert.is((await s.history.list({})).length, 10);
});

test("dry_run: snapshot, digest and cleanup answer what they would do and write nothing", async () => {
  const s = await setup();
  await s.history.put([historyRow("gateway", minus(200 * 24).toISOString(), 10)]);
  const snap = resultOf<SnapshotResult>(await s.call("snapshot", { dry_run: true }));
  assert.equal([snap.dry_run, snap.inserted], [true, 5]);
  assert.ok(snap.snapshots.every((x) => x.stored === "would_insert"));
  const digest = resultOf<RiskDigestResult>(await s.call("digest", { dry_run: true }));
  assert.is(digest.services.length, 5);
  assert.not.ok(existsSync(digest.files.json));
  assert.not.ok(existsSync(digest.files.md));
  const clean = resultOf<{ deleted: number; dry_run: boolean }>(await s.call("cleanup", { dry_run: true }));
  assert.equal([clean.deleted, clean.dry_run], [1, true]);
  assert.is((await s.history.list({})).length, 1, "only the seeded row: nothing stored, nothing removed");
});

test("digest: 24 h and 7 d deltas from history, top risers, and the files' contents", async () => {
  const s = await setup();
  await s.history.put([
    historyRow("gateway", minus(24).toISOString(), 50),
    historyRow("gateway", minus(7 * 24).toISOString(), 80),
    historyRow("auth", minus(26).toISOString(), 20), // the latest at or before now − 24 h
    historyRow("auth", minus(23).toISOString(), 99), // inside the last 24 h: not a baseline
    historyRow("search", minus(24).toISOString(), 10),
    historyRow("retired", minus(48).toISOString(), 90), // no snapshot in the last 24 h: left out
  ]);
  const d = resultOf<RiskDigestResult>(await s.call("digest"));
  assert.is(d.date, "2026-03-10");
  const row = (svc: string) => d.services.find((x) => x.service === svc)!;
  // gateway 71 now: 71 − 50 = +21 in 24 h, 71 − 80 = −9 in 7 d. auth 44: 44 − 20 = +24, no 7 d baseline.
  assert.equal([row("gateway").delta_24h, row("gateway").delta_7d], [21, -9]);
  assert.equal([row("auth").delta_24h, row("auth").delta_7d], [24, null]);
  assert.equal([row("search").delta_24h, row("payments").delta_24h], [-10, null]);
  assert.is(d.services.find((x) => x.service === "retired"), undefined);
  assert.equal(d.top_risers.map((x) => x.service), ["auth", "gateway"]);
  assert.equal(d.band_counts, { low: 2, medium: 2, high: 1, critical: 0 });
  assert.is(row("gateway").top_factor, "open_incidents");
  // The digest took this hour's snapshot on the way.
  assert.is((await s.history.list({ since: "2026-03-10T12:00:00.000Z" })).length, 5);

  assert.equal(d.files, { json: join(s.reportsDir, "risk", "2026-03-10.json"), md: join(s.reportsDir, "risk", "2026-03-10.md") });
  const json = JSON.parse(readFileSync(d.files.json, "utf8"));
  assert.equal([json.date, json.services.length, json.top_risers[0].service, json.top_risers[0].delta_24h], ["2026-03-10", 5, "auth", 24]);
  const md = readFileSync(d.files.md, "utf8");
  assert.match(md, "# Risk digest 2026-03-10");
  assert.match(md, "- **auth** (prod): 44 (medium), +24 in 24 h, — in 7 d");
  assert.match(md, "| gateway | prod | 71 | high | +21 | -9 | open_incidents |");

  // A past day reads history only: as of 2026-03-09T23:59:59.999Z gateway's latest is the 50.
  const past = resultOf<RiskDigestResult>(await s.call("digest", { date: "2026-03-09" }));
  assert.equal(past.services.map((x) => [x.service, x.score]), [["auth", 99], ["gateway", 50], ["search", 10]]);
  assert.is(errorOf(await s.call("digest", { date: "2026-03-11" })).code, "invalid_request");
  assert.is(errorOf(await s.call("digest", { date: "10/03/2026" })).code, "invalid_request");
});

test("cleanup removes snapshots older than the policy's retention (90 days) or the given one", async () => {
  const s = await setup();
  await s.history.put([100, 91, 89, 1].map((days) => historyRow("gateway", minus(days * 24).toISOString(), days)));
  const r = resultOf<{ deleted: number; retention_days: number }>(await s.call("cleanup"));
  assert.equal([r.retention_days, r.deleted], [90, 2]);
  assert.equal((await s.history.list({})).map((x) => x.score), [89, 1]);
  assert.is(resultOf<{ deleted: number }>(await s.call("cleanup", { retention_days: 30 })).deleted, 1);
  assert.is(errorOf(await s.call("cleanup", { retention_days: 0 })).code, "invalid_request");
});

test("get and series; reads for everyone with tools.risk.read, writes only for the scheduler and the CTO", async () => {
  const s = await setup();
  await s.history.put([3, 2, 1].map((h) => historyRow("gateway", minus(h).toISOString(), 10 * h)));
  const got = resultOf<{ scores: Array<{ score: number; attribution: unknown[] }>; latest_snapshots: Array<{ score: number }> }>(
    await s.call("get", { service: "gateway" }, "aistalk"),
  );
  assert.equal([got.scores[0]?.score, got.scores[0]?.attribution.length, got.latest_snapshots[0]?.score], [71, 5, 10]);
  const series = resultOf<{ count: number; points: Array<{ score: number }> }>(await s.call("series", { service: "gateway", hours: 2 }, "helion"));
  assert.equal(series.points.map((p) => p.score), [20, 10]);
  assert.is(resultOf<{ count: number }>(await s.call("series", { service: "gateway", days: 1 })).count, 3);
  assert.is(errorOf(await s.call("series", { service: "gateway", hours: 2, days: 1 })).code, "invalid_request");
  assert.is(errorOf(await s.call("series", { service: "nowhere" })).code, "not_found");
  assert.is(errorOf(await s.call("get", {})).code, "invalid_request");
  for (const agent of ["aistalk", "monitor"]) assert.is(errorOf(await s.call("snapshot", {}, agent)).code, "forbidden");
  assert.ok((await s.call("snapshot", {}, "sofiia")).ok);
});

test.run();
