/**
 * release_tool.release_check: every gate in every mode and env, on fixtures that hold and that
 * break it; the shipped per-env modes; what each gate counts and ignores; failing closed.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GATE_MODES, GATES, RELEASE_ENVS } from "../../src/config/release-policy.js";
import type { IncidentRow } from "../../src/incidents/store.js";
import { errorOf } from "./gateway-fixtures.js";
import { MemoryIncidentStore } from "./incident-fixtures.js";
import {
  alertFor,
  gateOf,
  highRiskFor,
  incidentFor,
  onlyGate,
  overdueFollowupFor,
  releaseFixture,
  verdicts,
  type Env,
  type ReleaseFixture,
} from "./release-fixtures.js";

/** Makes `gate` fail for checkout in `env`. */
async function breakGate(f: ReleaseFixture, gate: string, env: Env): Promise<void> {
  if (gate === "slo_watch") await alertFor(f.alerts, "checkout", env);
  else if (gate === "followup_watch") await incidentFor(f.incidents, "checkout", env, "P1");
  else await highRiskFor(f.incidents, f.alerts, "checkout", env);
}

test("every gate × mode × env: holds → pass, broken → warn (warn), fail (strict); off → skipped either way", async () => {
  const expected = { off: ["skipped", "skipped"], warn: ["pass", "warn"], strict: ["pass", "fail"] } as const;
  for (const gate of GATES) {
    for (const mode of GATE_MODES) {
      for (const env of RELEASE_ENVS) {
        const f = releaseFixture({ gates: onlyGate(gate, env, mode) });
        const clean = await f.check({ service: "checkout", env });
        await breakGate(f, gate, env);
        const broken = await f.check({ service: "checkout", env });
        const label = `${gate} ${mode} in ${env}`;
        assert.equal([gateOf(clean, gate).verdict, gateOf(broken, gate).verdict], [...expected[mode]], label);
        assert.equal([clean.pass, broken.pass], [true, mode !== "strict"], label);
        assert.equal(broken.blocked_by, mode === "strict" ? [gate] : [], label);
        assert.is(broken.warnings.length > 0, mode === "warn", label);
        if (mode !== "off") assert.ok(gateOf(broken, gate).reasons.length > 0, `${label}: a broken gate says why`);
        // The other gates are off in this env, so they never ran.
        assert.ok(GATES.filter((g) => g !== gate).every((g) => gateOf(broken, g).verdict === "skipped"), label);
      }
    }
  }
});

test("shipped modes: the same trouble is a warning in dev and staging and blocks prod", async () => {
  const expected: Record<Env, { pass: boolean; v: Record<string, string> }> = {
    dev: { pass: true, v: { slo_watch: "warn", followup_watch: "skipped", risk_watch: "skipped" } },
    staging: { pass: true, v: { slo_watch: "warn", followup_watch: "warn", risk_watch: "warn" } },
    prod: { pass: false, v: { slo_watch: "fail", followup_watch: "fail", risk_watch: "warn" } },
  };
  for (const env of RELEASE_ENVS) {
    const f = releaseFixture();
    await alertFor(f.alerts, "checkout", env);
    await highRiskFor(f.incidents, f.alerts, "checkout", env);
    const r = await f.check({ service: "checkout", env });
    assert.equal([r.pass, r.verdict, verdicts(r)], [expected[env].pass, expected[env].pass ? "pass" : "fail", expected[env].v], env);
    // Trouble in another env or for another service is not this release's business.
    const other = await f.check({ service: "search", env });
    assert.equal([other.pass, other.warnings, other.blocked_by], [true, [], []], `${env}: search`);
  }
});

test("slo_watch (alerts source): active alerts count; acked, dead, old, other kinds and other services do not", async () => {
  const f = releaseFixture({ gates: onlyGate("slo_watch", "prod", "strict") });
  const acked = await alertFor(f.alerts, "checkout", "prod");
  await f.alerts.updateState(acked, {}, { status: "acked" });
  const dead = await alertFor(f.alerts, "checkout", "prod");
  await f.alerts.updateState(dead, {}, { status: "failed", dead: true, last_error: "gave up" });
  await alertFor(f.alerts, "checkout", "prod", { ago: 90 }); // outside the 60-minute window
  await alertFor(f.alerts, "checkout", "prod", { kind: "latency" });
  await alertFor(f.alerts, "search", "prod");
  assert.is(gateOf(await f.check({ service: "checkout", env: "prod" }), "slo_watch").verdict, "pass");

  const live = await alertFor(f.alerts, "checkout", "prod");
  await f.alerts.updateState(live, {}, { status: "failed", retry_at: "2026-03-10T12:05:00.000Z" }); // failed, still retrying
  const r = await f.check({ service: "checkout", env: "prod" });
  assert.equal([r.verdict, gateOf(r, "slo_watch").reasons.length], ["fail", 1]);
  assert.match(gateOf(r, "slo_watch").reasons[0]!, new RegExp(`active slo_breach alert ${live} on checkout`));
});

test("followup_watch: open P0/P1 block, P2 does not, closed ones do not; overdue follow-ups block", async () => {
  const f = releaseFixture({ gates: onlyGate("followup_watch", "prod", "strict") });
  await incidentFor(f.incidents, "checkout", "prod", "P2");
  const closed = await incidentFor(f.incidents, "checkout", "prod", "P0");
  await f.incidents.setStatus(closed.id, "closed", { by: "test", resolution: "fixed" }, new Date("2026-03-10T11:00:00Z"));
  assert.is(gateOf(await f.check({ service: "checkout", env: "prod" }), "followup_watch").verdict, "pass");

  const late = await overdueFollowupFor(f.incidents, "checkout", "prod", 3);
  const r = await f.check({ service: "checkout", env: "prod" });
  assert.is(r.verdict, "fail");
  assert.equal(gateOf(r, "followup_watch").reasons, [
    "1 overdue follow-up(s)",
    `overdue follow-up "add canary" on ${late.id} (P2), owner ops, due 2026-03-07, 3 day(s) late`,
  ]);

  const p1 = await incidentFor(f.incidents, "checkout", "prod", "P1");
  const again = gateOf(await f.check({ service: "checkout", env: "prod" }), "followup_watch");
  assert.match(again.reasons[0]!, new RegExp(`^open P1 incident ${p1.id} on checkout`));
});

test("risk_watch: a band below fail_at_band passes with the score, at or above it fails", async () => {
  const f = releaseFixture({ gates: { ...onlyGate("risk_watch", "prod", "strict"), risk_watch: { fail_at_band: "high" } } });
  await incidentFor(f.incidents, "checkout", "prod", "P1"); // 25 → medium
  const medium = gateOf(await f.check({ service: "checkout", env: "prod" }), "risk_watch");
  assert.equal([medium.verdict, medium.reasons], ["pass", ["checkout risk 25 (medium): open_incidents 25"]]);
  await highRiskFor(f.incidents, f.alerts, "checkout", "prod"); // + P0: open_incidents capped at 40, 3 SLO alerts 15, 2 incidents in 7 d 10, rate 0.25
  const high = gateOf(await f.check({ service: "checkout", env: "prod" }), "risk_watch");
  assert.equal(
    [high.verdict, high.reasons],
    ["fail", ["checkout risk 65.25 (high): open_incidents 40, slo_breaches 15, recurrence 10, alert_rate 0.25; band high is at or above high"]],
  );
  // The same data under fail_at_band: critical holds.
  const lenient = releaseFixture({ gates: { ...onlyGate("risk_watch", "prod", "strict"), risk_watch: { fail_at_band: "critical" } } });
  await highRiskFor(lenient.incidents, lenient.alerts, "checkout", "prod");
  assert.is(gateOf(await lenient.check({ service: "checkout", env: "prod" }), "risk_watch").verdict, "pass");
});

test("without a service the check covers every service of the env", async () => {
  const f = releaseFixture({ gates: onlyGate("followup_watch", "staging", "strict") });
  await incidentFor(f.incidents, "search", "staging", "P0");
  await incidentFor(f.incidents, "billing", "prod", "P0");
  const r = await f.check({ env: "staging" });
  assert.equal([r.service, r.verdict, gateOf(r, "followup_watch").reasons.length], [null, "fail", 1]);
  assert.match(gateOf(r, "followup_watch").reasons[0]!, /open P0 incident inc_\S+ on search/);
});

test("a gate whose store is down fails closed with the reason; the call still answers", async () => {
  class DownStore extends MemoryIncidentStore {
    override async exportRows(): Promise<IncidentRow[]> {
      throw new Error("incident store down (postgres://ops:hunter2@db/ops)");
    }
  }
  const f = releaseFixture({ incidents: new DownStore() });
  const r = await f.check({ service: "checkout", env: "prod" });
  assert.equal([r.verdict, r.blocked_by], ["fail", ["followup_watch"]]);
  assert.equal(gateOf(r, "followup_watch").reasons, ["followup_watch could not be evaluated: incident store down (postgres://ops:***@db/ops)"]);
  assert.is(gateOf(r, "risk_watch").verdict, "warn", "risk_watch is warn in prod: its failure only warns");
});

test("params are checked: env required, service name shape, no unknown keys", async () => {
  const f = releaseFixture();
  for (const params of [{ service: "checkout" }, { env: "qa" }, { env: "prod", service: 'x"}' }, { env: "prod", run_everything: false }]) {
    assert.is(errorOf(await f.call("helion", params)).code, "invalid_request", JSON.stringify(params));
  }
});

test.run();
