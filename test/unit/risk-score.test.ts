/** Risk scores on the seeded dataset against hand-computed values; attribution sums; bands at thresholds. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bandOf, RiskPolicy } from "../../src/config/risk-policy.js";
import { currentRisk, type RiskDeps } from "../../src/risk/history.js";
import { computeRisk, RISK_FACTORS, round2, type ServiceRisk } from "../../src/risk/score.js";
import { attribution, NOW, riskPolicy, seedDataset } from "./risk-fixtures.js";
import { tmpDir } from "./incident-fixtures.js";

async function deps(): Promise<RiskDeps> {
  const d = await seedDataset();
  return { ...d, policy: riskPolicy, attribution, reportsDir: tmpDir("risk") };
}
const points = (r: ServiceRisk) => Object.fromEntries(r.attribution.map((c) => [c.factor, c.points]));
const find = (rs: ServiceRisk[], service: string) => rs.find((r) => r.service === service)!;

test("scores of the seeded services equal the hand-computed values", async () => {
  const risks = await currentRisk(await deps(), NOW);
  assert.equal(risks.map((r) => [r.env, r.service, r.score, r.band]), [
    ["prod", "gateway", 71, "high"],
    ["prod", "auth", 44, "medium"],
    ["prod", "payments", 20, "medium"],
    ["staging", "billing", 5, "low"],
    ["prod", "search", 0, "low"],
  ]);

  // gateway, now 2026-03-10T12:00Z:
  //   open_incidents: P0 (40) + P2 (10) = 50, capped at 40                        → 40
  //   recurrence: started since 03-03T12:00 — 03-09, 03-08, 03-05 = 3 ≥ 2; 3 × 5   → 15
  //   followups_overdue: fu1 (due 03-01) and fu4 (due 03-09, passed at 03-10T00:00);
  //     fu2 is due 03-20, fu3 is done; 2 × 5                                       → 10
  //   slo_breaches: one slo_breach alert seen 2 h ago (the one seen 30 h ago is out); 1 × 5 → 5
  //   alert_rate: 3 + 9 occurrences in 24 h = 0.5 / h; 0.5 × 2                     → 1
  //   score 40 + 15 + 10 + 5 + 1 = 71 → high (50 ≤ 71 < 75)
  const gw = find(risks, "gateway");
  assert.equal(points(gw), { open_incidents: 40, recurrence: 15, followups_overdue: 10, slo_breaches: 5, alert_rate: 1 });
  assert.equal(gw.attribution.map((c) => c.value), [2, 3, 2, 1, 0.5]);
  assert.is(gw.attribution[0]!.detail, "1×P0, 1×P2");

  // auth: open P1 → 25; recurrence 1 incident < 2 → 0; no follow-ups → 0;
  //   4 slo_breach alerts × 5 = 20, capped at 15; (4 + 44) / 24 h = 2 / h × 2 = 4; 25 + 15 + 4 = 44 → medium
  assert.equal(points(find(risks, "auth")), { open_incidents: 25, recurrence: 0, followups_overdue: 0, slo_breaches: 15, alert_rate: 4 });
  // payments: all closed; 5 of its incidents started since 03-03T12:00 → 5 × 5 = 25, capped at 20 → 20 = medium (threshold)
  assert.equal(points(find(risks, "payments")), { open_incidents: 0, recurrence: 20, followups_overdue: 0, slo_breaches: 0, alert_rate: 0 });
  // billing (staging): one open P3 → 5. search: listed in the policy, nothing happened → 0.
  assert.equal(points(find(risks, "billing")).open_incidents, 5);
  assert.ok(find(risks, "search").attribution.every((c) => c.points === 0));
});

test("attribution: one entry per factor, and the points add up to the score", async () => {
  const risks = await currentRisk(await deps(), NOW);
  for (const r of risks) {
    assert.equal(r.attribution.map((c) => c.factor), [...RISK_FACTORS]);
    assert.is(round2(r.attribution.reduce((n, c) => n + c.points, 0)), r.score, r.service);
    for (const c of r.attribution) assert.ok(c.points >= 0 && c.points <= c.max, `${r.service} ${c.factor}`);
  }
});

test("filters: one service, one env; a service with no data scores 0", async () => {
  const d = await deps();
  assert.equal((await currentRisk(d, NOW, { service: "gateway" })).map((r) => r.score), [71]);
  // Services listed in the policy are scored in the env asked for (prod when none is).
  assert.equal((await currentRisk(d, NOW, { env: "staging" })).map((r) => [r.service, r.score]), [["billing", 5], ["search", 0]]);
  assert.equal((await currentRisk(d, NOW, { service: "unknown-svc" })).map((r) => [r.service, r.score, r.band]), [["unknown-svc", 0, "low"]]);
});

test("bands at the thresholds: each threshold is inclusive", () => {
  const t = RiskPolicy.parse({}).bands;
  assert.equal([0, 19.99, 20, 49.99, 50, 74.99, 75, 100].map((s) => bandOf(s, t)), ["low", "low", "medium", "medium", "high", "high", "critical", "critical"]);
  // Through computeRisk: two open P2 incidents = 2 × 10 = 20 → exactly medium; a third P3 → 25.
  const inc = (id: string, severity: "P2" | "P3") => ({
    id, service: "svc", env: "prod" as const, severity, title: "t", status: "open" as const, started_at: "2026-01-01T00:00:00Z",
    created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", created_by: "t", alert_count: 0, reopened_count: 0, labels: {},
  });
  const base = { now: NOW, followupEvents: [], alerts: [] };
  const [at20] = computeRisk({ ...base, incidents: [inc("a", "P2"), inc("b", "P2")] }, attribution, riskPolicy);
  assert.equal([at20?.score, at20?.band], [20, "medium"]);
  const strict = RiskPolicy.parse({ bands: { medium: 21, high: 22, critical: 25 } });
  const [below] = computeRisk({ ...base, incidents: [inc("a", "P2"), inc("b", "P2")] }, attribution, strict);
  assert.equal([below?.score, below?.band], [20, "low"]);
  const [crit] = computeRisk({ ...base, incidents: [inc("a", "P2"), inc("b", "P2"), inc("c", "P3")] }, attribution, strict);
  assert.equal([crit?.score, crit?.band], [25, "critical"]);
});

test("bad band thresholds are refused by the schema", () => {
  const r = RiskPolicy.safeParse({ bands: { medium: 60, high: 50 } });
  assert.not.ok(r.success);
});

test.run();
