/**
 * Architecture pressure on the seeded dataset against hand-computed values; the platform digest
 * files and latestPlatformDigest; dry_run; the tool's reads and RBAC; speed over 100,000 incidents.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { latestPlatformDigest, platformDigestPaths, type PlatformDigest } from "../../src/pressure/digest-files.js";
import { platformDigest, type PlatformDigestResult } from "../../src/pressure/digest.js";
import { computePressure, PRESSURE_FACTORS, type ServicePressure } from "../../src/pressure/score.js";
import { round2 } from "../../src/risk/score.js";
import type { IncidentRecord } from "../../src/incidents/store.js";
import { createArchitecturePressureTool } from "../../src/tools/architecture-pressure-tool.js";
import { errorOf, resultOf, toolCaller } from "./gateway-fixtures.js";
import { tmpDir } from "./incident-fixtures.js";
import { historyRow, NOW, pressurePolicy, seedDataset } from "./risk-fixtures.js";

async function setup() {
  const data = await seedDataset();
  // gateway: 10 → 30 over the week before 2026-03-09; auth: 70 → 60 (a fall counts 0).
  await data.history.put([
    historyRow("gateway", "2026-03-01T20:00:00Z", 10),
    historyRow("gateway", "2026-03-08T23:00:00Z", 30),
    historyRow("gateway", "2026-03-09T05:00:00Z", 95), // after the week's end: not read
    historyRow("auth", "2026-03-01T12:00:00Z", 70),
    historyRow("auth", "2026-03-08T23:00:00Z", 60),
  ]);
  const reportsDir = tmpDir("platform");
  const deps = { incidents: data.incidents, history: data.history, policy: pressurePolicy, reportsDir };
  const gw = toolCaller(createArchitecturePressureTool(deps), () => NOW);
  const call = (action: string, params: Record<string, unknown> = {}, agent_id = "scheduler") => gw.call(agent_id, action, params);
  return { deps, reportsDir, call };
}
const pts = (s: ServicePressure) => Object.fromEntries(PRESSURE_FACTORS.map((k) => [k, s.factors[k].points]));

test("pressure of the seeded services for week 2026-10 equals the hand-computed values", async () => {
  const { deps } = await setup();
  const d = await platformDigest(deps, { dry_run: true }, NOW); // default: the last complete week
  assert.equal([d.week, d.from, d.to], ["2026-10", "2026-02-09T00:00:00.000Z", "2026-03-09T00:00:00.000Z"]);
  assert.equal(d.services.map((s) => [s.service, s.score, s.band, s.requires_arch_review]), [
    ["payments", 60, "high", true],
    ["gateway", 25, "medium", false],
    ["auth", 0, "low", false],
  ]);
  const by = (svc: string) => d.services.find((s) => s.service === svc)!;

  // payments: 9 incidents in the window: 3×P0 (30) + 4×P1 (20) + 2×P2 (4) = 54, capped at 35   → 35
  //   recurring signatures pay-a ×3, pay-b ×2, pay-c ×2, pay-d ×2 → repeats 2+1+1+1 = 5; 5 × 5 → 25
  //   no risk history → 0; no follow-ups → 0; 35 + 25 = 60 → high; review: band high and 4 ≥ 3 signatures
  assert.equal(pts(by("payments")), { incidents: 35, recurrence: 25, risk_trend: 0, followups_overdue: 0 });
  assert.equal(by("payments").review_reasons, ["band high", "4 recurring signatures (≥ 3)"]);
  assert.equal(by("payments").categories, ["incidents", "recurrence"]);

  // gateway: in [02-09, 03-09): P2 03-08, P2 03-05, P3 02-20 (the P0 of 03-09 is after the end) → 2+2+1 = 5
  //   gw-latency ×2 → 1 repeat × 5 = 5; risk 10 → 30 = +20 × 0.5 = 10;
  //   overdue at 03-09T00:00: fu1 (due 03-01); fu4 is due 03-09, not yet past → 1 × 5 = 5
  //   5 + 5 + 10 + 5 = 25 → medium (the threshold); 1 recurring signature < 3 → no review
  assert.equal(pts(by("gateway")), { incidents: 5, recurrence: 5, risk_trend: 10, followups_overdue: 5 });
  assert.equal([by("gateway").factors.risk_trend.value, by("gateway").stats.risk_score, by("gateway").stats.risk_score_before], [20, 30, 10]);
  assert.equal(by("gateway").categories, ["risk_trend", "incidents", "recurrence", "followups_overdue"]);
  // auth: no incidents in the window; risk fell 70 → 60: value −10, 0 points.
  assert.equal([by("auth").factors.risk_trend.value, by("auth").score, by("auth").categories], [-10, 0, []]);

  for (const s of d.services) assert.is(round2(PRESSURE_FACTORS.reduce((n, k) => n + s.factors[k].points, 0)), s.score);
  assert.equal(d.totals, { services: 3, requires_arch_review: 1, band_counts: { low: 1, medium: 1, high: 1, critical: 0 } });
});

test("digest writes platform/YYYY-WW.{json,md}; latestPlatformDigest reads the newest back; dry_run writes nothing", async () => {
  const { deps, reportsDir } = await setup();
  assert.is(await latestPlatformDigest(reportsDir), null);
  const dry = await platformDigest(deps, { dry_run: true }, NOW);
  assert.not.ok(existsSync(dry.files.json));
  assert.is(await latestPlatformDigest(reportsDir), null);

  const d: PlatformDigestResult = await platformDigest(deps, { dry_run: false }, NOW);
  assert.equal(d.files, platformDigestPaths(reportsDir, "2026-10"));
  assert.equal(d.files.json, join(reportsDir, "platform", "2026-10.json"));
  const json = JSON.parse(readFileSync(d.files.json, "utf8")) as PlatformDigest;
  assert.equal([json.schema, json.week, json.services[0]?.service, json.services[0]?.categories], ["opsbus.platform_digest/1", "2026-10", "payments", ["incidents", "recurrence"]]);
  assert.not.ok("files" in json || "dry_run" in json);
  const md = readFileSync(d.files.md, "utf8");
  assert.match(md, "# Platform priority digest 2026-10");
  assert.match(md, "- **payments** (prod): pressure 60 (high) — band high; 4 recurring signatures (≥ 3)");
  assert.match(md, "| gateway | prod | 25 | medium | no | 5 | 5 | 10 | 5 |");

  // An older week written later does not win; a week after `now` is ignored.
  await platformDigest(deps, { week: "2026-08", dry_run: false }, NOW);
  assert.is((await latestPlatformDigest(reportsDir, NOW))?.week, "2026-10");
  mkdirSync(join(reportsDir, "platform"), { recursive: true });
  writeFileSync(join(reportsDir, "platform", "2026-30.json"), JSON.stringify({ ...json, week: "2026-30" }));
  assert.is((await latestPlatformDigest(reportsDir, NOW))?.week, "2026-10");
  assert.is((await latestPlatformDigest(reportsDir))?.week, "2026-30");
  writeFileSync(join(reportsDir, "platform", "2026-31.json"), "{torn");
  const err = await latestPlatformDigest(reportsDir).catch((e: unknown) => e);
  assert.is((err as { code?: string }).code, "internal");
});

test("tool: digest for writers; list and get read the latest digest; the runbook's error when there is none", async () => {
  const { call } = await setup();
  assert.equal(errorOf(await call("list", {}, "helion")), { code: "not_found", message: "No platform digest found. Run architecture_pressure_tool.digest first." });
  for (const agent of ["helion", "aistalk", "monitor"]) assert.is(errorOf(await call("digest", {}, agent)).code, "forbidden");
  assert.is(resultOf<{ week: string }>(await call("digest", { week: "2026-W10" })).week, "2026-10");
  const list = resultOf<{ week: string; count: number; services: ServicePressure[] }>(await call("list", { requires_arch_review: true }, "helion"));
  assert.equal([list.week, list.services.map((s) => s.service)], ["2026-10", ["payments"]]);
  const got = resultOf<{ services: ServicePressure[] }>(await call("get", { service: "gateway" }, "sofiia"));
  assert.equal(got.services.map((s) => [s.env, s.score]), [["prod", 25]]);
  assert.is(errorOf(await call("get", { service: "nope" })).code, "not_found");
  assert.is(errorOf(await call("digest", { week: "2026-54" })).code, "invalid_request");
  assert.is(errorOf(await call("get", { service: "gateway", week: "2026-09" })).code, "not_found");
});

// Speed is the governance benchmark's business (npm run bench -- governance); here, the counts at scale.
test("computePressure over 100,000 incidents counts each one once, in its service", () => {
  const to = Date.parse("2026-03-09T00:00:00Z");
  const incidents: IncidentRecord[] = Array.from({ length: 100_000 }, (_, i) => {
    const started = new Date(to - (i % (27 * 86_400)) * 1000 - 1000).toISOString();
    return {
      id: `inc_${i}`, service: `svc${i % 50}`, env: "prod", severity: (["P0", "P1", "P2", "P3"] as const)[i % 4]!, title: "t",
      status: "closed", signature: `sig${i % 500}`, started_at: started, created_at: started, updated_at: started, closed_at: started,
      created_by: "t", alert_count: 1, reopened_count: 0, labels: {},
    };
  });
  const out = computePressure({ to: new Date(to), incidents, followupEvents: [], riskNow: [], riskBefore: [] }, pressurePolicy);
  assert.is(out.length, 50);
  assert.ok(out.every((p) => p.stats.incidents === 2000), "100,000 incidents over 50 services: 2,000 each");
});

test.run();
