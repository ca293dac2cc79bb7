/**
 * Gate bypass: allowed only with tools.release.bypass (agent_cto), refused with `forbidden`
 * otherwise; a bypass leaves its own audit record and a note on the service's open incidents,
 * and is refused when the audit log cannot take it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BYPASS_AUDIT_ACTION } from "../../src/release/bypass.js";
import type { ReleaseCheckResult } from "../../src/release/types.js";
import { errorOf, resultOf } from "./gateway-fixtures.js";
import { alertFor, gateOf, incidentFor, releaseFixture, verdicts } from "./release-fixtures.js";

test("sofiia (agent_cto) bypasses slo_watch: bypassed verdict, its own audit record, a note on the open incident", async () => {
  const f = releaseFixture();
  await alertFor(f.alerts, "checkout", "prod");
  const inc = await incidentFor(f.incidents, "checkout", "prod", "P2");
  await incidentFor(f.incidents, "search", "prod", "P2");

  const blocked = await f.check({ service: "checkout", env: "prod" }, "sofiia");
  assert.equal([blocked.verdict, blocked.blocked_by, blocked.bypass], ["fail", ["slo_watch"], undefined]);

  const params = { service: "checkout", env: "prod", run_slo_watch: false, reason: "hotfix for the outage" };
  const r = resultOf<ReleaseCheckResult>(await f.call("sofiia", params));
  assert.equal([r.pass, verdicts(r)], [true, { slo_watch: "bypassed", followup_watch: "pass", risk_watch: "pass" }]);
  assert.equal(gateOf(r, "slo_watch").reasons, ["bypassed by sofiia: hotfix for the outage"]);
  assert.equal(r.bypass, { gates: ["slo_watch"], by: "sofiia", role: "agent_cto", reason: "hotfix for the outage", incident_ids: [inc.id] });

  const records = await f.audited();
  const call = records.filter((x) => x.action === "release_check" && x.params.run_slo_watch === false);
  assert.equal(call.map((x) => [x.agent_id, x.role, x.decision, x.status]), [["sofiia", "agent_cto", "allow", "ok"]]);
  const bypass = records.filter((x) => x.action === BYPASS_AUDIT_ACTION);
  assert.equal(
    bypass.map((x) => [x.tool, x.agent_id, x.role, x.decision, x.status, x.params]),
    [["release_tool", "sofiia", "agent_cto", "allow", "ok", { service: "checkout", env: "prod", bypassed: ["slo_watch"], verdict: "pass", incident_ids: [inc.id], reason: "hotfix for the outage" }]],
  );

  const notes = (await f.incidents.events({ incident_ids: [inc.id], type: "note" })).filter((e) => e.meta.release_gate);
  assert.equal(notes.map((e) => [e.author, e.message]), [
    ["sofiia", "Release gate bypassed by sofiia (agent_cto) for checkout in prod: slo_watch; reason: hotfix for the outage. Check verdict: pass."],
  ]);
  assert.is((notes[0]!.meta.release_gate as { audit_id: string }).audit_id, bypass[0]!.id);
  const others = await f.incidents.events({ type: "note" });
  assert.ok(others.every((e) => e.incident_id === inc.id), "other services' incidents get no note");
});

test("helion (agent_oncall) may check but not bypass: forbidden, audited with the bypass params, nothing recorded elsewhere", async () => {
  const f = releaseFixture();
  const inc = await incidentFor(f.incidents, "checkout", "prod", "P2");
  for (const flag of ["run_slo_watch", "run_followup_watch", "run_risk_watch"]) {
    const e = errorOf(await f.call("helion", { service: "checkout", env: "prod", [flag]: false }));
    assert.is(e.code, "forbidden", flag);
    assert.match(e.message, /agent "helion" \(role agent_oncall\) lacks entitlement tools\.release\.bypass to skip/);
  }
  assert.is(resultOf<ReleaseCheckResult>(await f.call("helion", { service: "checkout", env: "prod" })).verdict, "pass");

  const records = await f.audited();
  const refused = records.filter((x) => x.status === "forbidden");
  assert.equal(refused.map((x) => [x.agent_id, x.action, Object.keys(x.params).find((k) => k.startsWith("run_"))]), [
    ["helion", "release_check", "run_slo_watch"],
    ["helion", "release_check", "run_followup_watch"],
    ["helion", "release_check", "run_risk_watch"],
  ]);
  assert.is(records.filter((x) => x.action === BYPASS_AUDIT_ACTION).length, 0);
  assert.is((await f.incidents.events({ incident_ids: [inc.id], type: "note" })).length, 0);
});

test("roles without tools.release.check cannot run the check at all", async () => {
  const f = releaseFixture();
  for (const agent of ["aistalk", "monitor", "someone"]) {
    const e = errorOf(await f.call(agent, { service: "checkout", env: "prod" }));
    assert.equal([e.code, (e.details as { entitlement: string }).entitlement], ["forbidden", "tools.release.check"], agent);
  }
});

test("skipping a gate that is off bypasses nothing: skipped, no bypass record (still needs the entitlement)", async () => {
  const f = releaseFixture();
  const r = await f.check({ service: "checkout", env: "dev", run_followup_watch: false }, "sofiia");
  assert.equal([gateOf(r, "followup_watch").verdict, r.bypass], ["skipped", undefined]);
  assert.is((await f.audited()).filter((x) => x.action === BYPASS_AUDIT_ACTION).length, 0);
  assert.is(errorOf(await f.call("helion", { service: "checkout", env: "dev", run_followup_watch: false })).code, "forbidden");
});

test("a bypass the audit log cannot take is refused: unavailable, no incident note", async () => {
  const f = releaseFixture();
  const inc = await incidentFor(f.incidents, "checkout", "prod", "P2");
  f.audit.failAppends = 1;
  const e = errorOf(await f.call("sofiia", { service: "checkout", env: "prod", run_risk_watch: false }));
  assert.equal([e.code, e.message], ["unavailable", "the audit log did not take the bypass record; nothing was bypassed, try again"]);
  assert.is((await f.incidents.events({ incident_ids: [inc.id], type: "note" })).length, 0);
  assert.ok(f.lines.some((l) => l.includes("release gate bypass not recorded in the audit log")));
  const records = await f.audited();
  assert.equal(records.map((x) => [x.action, x.status]), [["release_check", "unavailable"]]);
});

test("a bypass reason is masked like a log line before it is kept", async () => {
  const f = releaseFixture();
  const inc = await incidentFor(f.incidents, "checkout", "prod", "P2");
  await f.check({ service: "checkout", env: "prod", run_risk_watch: false, reason: "db at postgres://ops:hunter2@db/ops is fine" }, "sofiia");
  const [record] = (await f.audited()).filter((x) => x.action === BYPASS_AUDIT_ACTION);
  assert.is(record!.params.reason, "db at postgres://ops:***@db/ops is fine");
  const [note] = await f.incidents.events({ incident_ids: [inc.id], type: "note" });
  assert.not.match(note!.message, /hunter2/);
});

test.run();
