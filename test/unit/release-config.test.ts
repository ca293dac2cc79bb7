/**
 * The release gate's three policy files: the shipped ones load as documented, and a bad value is
 * refused naming the file, the path, the value and what is allowed.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/errors.js";
import { loadPolicies } from "../../src/config/load.js";
import { ObservabilitySources, ReleaseGatePolicy, SloPolicy } from "../../src/config/release-policy.js";

const dirs: string[] = [];
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function loadWith(file: string, text: string): ConfigError {
  const dir = mkdtempSync(join(tmpdir(), "release-cfg-"));
  dirs.push(dir);
  cpSync("config", dir, { recursive: true });
  writeFileSync(join(dir, file), text);
  try {
    loadPolicies(dir);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected ${file} to be refused`);
}

test("the shipped files load: modes per env, thresholds, sources", () => {
  const p = loadPolicies("config");
  assert.equal(p.releaseGate.envs, {
    dev: { slo_watch: "warn", followup_watch: "off", risk_watch: "off" },
    staging: { slo_watch: "warn", followup_watch: "warn", risk_watch: "warn" },
    prod: { slo_watch: "strict", followup_watch: "strict", risk_watch: "warn" },
  });
  assert.equal(p.releaseGate, ReleaseGatePolicy.parse({}), "the shipped gate policy spells out the defaults");
  assert.equal([p.slo.defaults, p.slo.services.checkout], [{ latency_p95_ms: 500, error_rate_pct: 1 }, { latency_p95_ms: 300, error_rate_pct: 0.5 }]);
  assert.equal([p.observabilitySources.prometheus.enabled, p.observabilitySources.alerts], [false, { enabled: true, kinds: ["slo_breach"], window_minutes: 60 }]);
  assert.match(p.observabilitySources.prometheus.queries.latency_p95_ms ?? "", /http_request_duration_seconds_bucket\{service="\{\{service\}\}"\}/);
  assert.equal(SloPolicy.parse({}).services, {});
});

test("bad values are refused with file, path, value and what is allowed", () => {
  const gate = loadWith("release_gate_policy.yml", "envs:\n  prod:\n    slo_watch: block\n");
  assert.match(gate.message, /release_gate_policy\.yml: invalid configuration/);
  assert.match(gate.message, /at envs\.prod\.slo_watch: got "block"; .*"off"\|"warn"\|"strict"/);
  assert.match(loadWith("release_gate_policy.yml", "risk_watch:\n  fail_at_band: severe\n").message, /at risk_watch\.fail_at_band: got "severe"; .*"low"\|"medium"\|"high"\|"critical"/);
  assert.match(loadWith("release_gate_policy.yml", "envs:\n  qa: {}\n").message, /at envs: got \{"qa":\{\}\}; Unrecognized key: "qa"/);

  const slo = loadWith("slo_policy.yml", "services:\n  checkout:\n    error_rate_pct: 150\n");
  assert.match(slo.message, /slo_policy\.yml: invalid configuration[\s\S]*at services\.checkout\.error_rate_pct: got 150; Too big: expected number to be <=100/);

  const src = loadWith("observability_sources.yml", "prometheus:\n  enabled: true\n  base_url: ftp://prom\n  queries:\n    latency_p95_ms: 'x{s=\"{{svc}}\"}'\n");
  assert.match(src.message, /observability_sources\.yml: invalid configuration/);
  assert.match(src.message, /at prometheus\.base_url: got "ftp:\/\/prom"; an http\(s\) URL, e\.g\. http:\/\/127\.0\.0\.1:9090/);
  assert.match(src.message, /at prometheus\.queries\.latency_p95_ms: got "x\{s=\\"\{\{svc\}\}\\"\}"; placeholders allowed: \{\{service\}\}, \{\{env\}\}/);
  assert.match(loadWith("observability_sources.yml", "prometheus:\n  enabled: true\n").message, /at prometheus: got \{"enabled":true\}; an enabled prometheus source needs at least one query/);
  assert.ok(ObservabilitySources.safeParse({ prometheus: { timeout_ms: 10 } }).success === false, "timeout below the bound");
});

test.run();
