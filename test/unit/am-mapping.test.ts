/** Alertmanager API v2 alerts → opsbus alert payloads: Alertmanager's checks and defaults, config/intake.yml's mapping, its fingerprint. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadPolicies } from "../../src/config/load.js";
import { IntakePolicy } from "../../src/config/intake-policy.js";
import { labelSetFingerprint } from "../../src/alerts/am-fingerprint.js";
import { makeAmMapper, type AmAlertPayload } from "../../src/alerts/am-mapping.js";
import { makeAlertChecker } from "../../src/http/alertmanager/post.js";

const policies = loadPolicies("config");
const cfg = policies.intake.alertmanager;
const map = makeAmMapper(cfg, policies.alertRouting.alerts);
const now = new Date("2026-12-03T10:00:00.000Z");

function ok(raw: unknown): AmAlertPayload {
  const m = map(raw, now);
  if (!m.ok) throw new Error(m.reasons.join("; "));
  return m.payload;
}
function reasons(raw: unknown): string[] {
  const m = map(raw, now);
  assert.ok(!m.ok, "expected a refusal");
  return m.ok ? [] : m.reasons;
}

test("config/intake.yml's alertmanager section loads and equals the schema's defaults (the file documents them)", () => {
  assert.equal(policies.intake.alertmanager, IntakePolicy.parse({}).alertmanager);
});

test("the fingerprint is Alertmanager's (values read from a real Alertmanager 0.25)", () => {
  assert.is(labelSetFingerprint({ alertname: "X", service: "checkout", severity: "critical" }), "22bd327e4466504d");
  assert.is(labelSetFingerprint({ a: "b" }), "d2b371819297f98a");
  assert.is(labelSetFingerprint({ uni: "é€😀", zz: "1", _a: "x y" }), "a9abd12c2798ed4c");
  // Order of keys as sent does not matter: the set is sorted.
  assert.is(labelSetFingerprint({ severity: "critical", service: "checkout", alertname: "X" }), "22bd327e4466504d");
});

test("the fingerprint is the same whatever order the labels were sent in (every order of six names)", () => {
  const names = ["a_", "B", "a", "_x", "ab", "Z9"];
  const orders = (xs: string[]): string[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => orders([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest])));
  const fingerprints = new Set(orders(names).map((order) => labelSetFingerprint(Object.fromEntries(order.map((n) => [n, `v-${n}`])))));
  assert.is(fingerprints.size, 1);
  // Only the label set counts: a different value is a different fingerprint.
  assert.is.not(labelSetFingerprint(Object.fromEntries(names.map((n) => [n, n === "ab" ? "other" : `v-${n}`]))), [...fingerprints][0]);
});

test("a Prometheus alert maps label by label; labels and annotations are kept as sent", () => {
  const p = ok({
    labels: { alertname: "HighErrorRate", job: "checkout-api", severity: "critical", environment: "Production", kind: "error_rate", instance: "" },
    annotations: { summary: "5xx above 5%", description: "for 10 minutes" },
    startsAt: "2026-12-03T09:55:00Z",
    endsAt: "2026-12-03T10:04:00Z",
    generatorURL: "http://prom:9090/graph?g0.expr=x",
  });
  assert.equal(p, {
    service: "checkout-api",
    title: "5xx above 5%",
    kind: "error_rate",
    severity: "P0",
    env: "prod",
    source: "alertmanager",
    message: "for 10 minutes",
    fingerprint: labelSetFingerprint({ alertname: "HighErrorRate", job: "checkout-api", severity: "critical", environment: "Production", kind: "error_rate" }),
    labels: { alertname: "HighErrorRate", job: "checkout-api", severity: "critical", environment: "Production", kind: "error_rate" },
    annotations: { summary: "5xx above 5%", description: "for 10 minutes" },
    status: "firing",
    starts_at: "2026-12-03T09:55:00.000Z",
    ends_at: "2026-12-03T10:04:00.000Z",
    generator_url: "http://prom:9090/graph?g0.expr=x",
  });
});

test("defaults: service label before job, alertname as title, unknown values fall back, Go's zero time is unset", () => {
  const p = ok({ labels: { alertname: "Disk", service: "db", job: "node", severity: "urgent", env: "moon", kind: "no_such_kind" }, startsAt: "0001-01-01T00:00:00.000Z", endsAt: "0001-01-01T00:00:00Z" });
  assert.equal([p.service, p.title, p.severity, p.env, p.kind], ["db", "Disk", "P2", "prod", "custom"]);
  assert.is(p.starts_at, undefined, "no start: the worker takes the receipt time and lets it join the active firing");
  assert.is(p.ends_at, undefined);
  assert.is(p.status, "firing");
  assert.equal(p.annotations, {});
  // P-levels pass as they are; a service label that is not a service name is cleaned, not refused.
  const q = ok({ labels: { job: "blackbox/http probe", severity: "p1" } });
  assert.equal([q.service, q.severity, q.title], ["blackbox_http_probe", "P1", '{job="blackbox/http probe", severity="p1"}']);
  assert.is(ok({ labels: { alertname: "x" } }).service, "unknown");
});

test("endsAt in the past is a resolved alert; only endsAt set means startsAt = endsAt", () => {
  const p = ok({ labels: { alertname: "A" }, startsAt: "2026-12-03T09:00:00Z", endsAt: "2026-12-03T09:30:00Z" });
  assert.equal([p.status, p.ends_at], ["resolved", "2026-12-03T09:30:00.000Z"]);
  const q = ok({ labels: { alertname: "A" }, endsAt: "2026-12-03T11:00:00Z" });
  assert.equal([q.starts_at, q.status], ["2026-12-03T11:00:00.000Z", "firing"]);
});

test("Alertmanager's refusals, each naming its field", () => {
  assert.equal(reasons({ annotations: {} }), ["labels: required"]);
  assert.equal(reasons({ labels: { a: "" } }), ["labels: at least one label pair required"]);
  assert.equal(reasons({ labels: { "0bad": "x" } }), ['labels: invalid name "0bad"']);
  assert.equal(reasons({ labels: { a: 1 } }), ["labels.a: must be a string, got number", "labels: at least one label pair required"]);
  assert.equal(reasons({ labels: { a: "b" }, startsAt: "2026-12-03T02:00:00Z", endsAt: "2026-12-03T01:00:00Z" }), ["startsAt: start time must be before end time"]);
  assert.equal(reasons({ labels: { a: "b" }, startsAt: "yesterday" }), ['startsAt: "yesterday" is not an RFC 3339 date-time']);
  assert.equal(reasons("x"), ["must be a JSON object"]);
});

test("times and generatorURL as a real Alertmanager 0.25 takes them (Go's RFC 3339 layout, url.ParseRequestURI)", () => {
  // Refused there (400 or 422), refused here.
  for (const t of ["2026-12-04t10:00:00z", "2026-12-04 10:00:00Z", "2026-12-04T10:00:00z"]) {
    assert.equal(reasons({ labels: { a: "b" }, startsAt: t }), [`startsAt: ${JSON.stringify(t)} is not an RFC 3339 date-time`], t);
  }
  for (const u of ["not a url", "#frag", "?q=1", "relative/path", "http://a b/", "http://[::1", "http:// x", "/tab\there"]) {
    assert.equal(reasons({ labels: { a: "b" }, generatorURL: u }), [`generatorURL: must be of type uri: ${JSON.stringify(u)}`], u);
  }
  // Taken there, taken here.
  for (const u of ["/graph?g0.expr=up", "http://prom:9090/graph?x=1", "/a b", "mailto:x@y", "x:y", "//host/p"]) assert.is(ok({ labels: { a: "b" }, generatorURL: u }).generator_url, u, u);
  assert.is(ok({ labels: { a: "b" }, generatorURL: "" }).generator_url, undefined);
  assert.is(ok({ labels: { a: "b" }, startsAt: "2026-12-04T10:00:00.123456789Z" }).starts_at, "2026-12-04T10:00:00.123Z");
});

test("reasons keep their order (type reasons, then annotations', then names); a __proto__ label is dropped like an empty one", () => {
  assert.equal(reasons({ labels: { "0bad": "x", a: 1, b: "" }, annotations: { s: null } }), [
    "labels.a: must be a string, got number",
    "annotations.s: must be a string, got null",
    'labels: invalid name "0bad"',
  ]);
  assert.equal(reasons(JSON.parse('{"labels":{"__proto__":"x"}}')), ["labels: at least one label pair required"]);
  const p = ok(JSON.parse('{"labels":{"__proto__":"x","alertname":"A"}}'));
  assert.equal(Object.keys(p.labels), ["alertname"]);
  assert.is(p.fingerprint, labelSetFingerprint({ alertname: "A" }));
  // Times in toISOString's form are kept as sent; others are written in it.
  assert.is(ok({ labels: { a: "b" }, startsAt: "2026-12-03T09:00:00.123Z" }).starts_at, "2026-12-03T09:00:00.123Z");
  assert.is(ok({ labels: { a: "b" }, startsAt: "2026-12-03T10:00:00.5+01:00" }).starts_at, "2026-12-03T09:00:00.500Z");
});

test("the checker keeps the valid alerts and reports the others by index, through the ingest normalizer too", () => {
  const check = makeAlertChecker({ policies });
  const tooMany = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`l${i}`, "v"]));
  const { valid, reasons: why } = check([{ labels: { alertname: "ok" } }, { labels: {} }, { labels: tooMany }, { labels: { alertname: "fine" } }], now);
  assert.equal(valid.map((v) => v.title), ["ok", "fine"]);
  assert.is(why.length, 2);
  assert.match(why[0]!, /^alert 1: labels: at least one label pair required$/);
  assert.match(why[1]!, /^alert 2: labels: .*64/);
});

test("the checker refuses an alert whose JSON is over alerts.max_payload_bytes, as the ingest worker would", () => {
  const check = makeAlertChecker({ policies });
  const max = policies.alertRouting.alerts.max_payload_bytes;
  // Annotations within max_text_chars each, together over the entry limit.
  const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`note${i}`, "x".repeat(Math.ceil((max * 1.2) / 40))]));
  const sent = [{ labels: { alertname: "small" } }, { labels: { alertname: "big" }, annotations: big }];
  const { valid, reasons: why } = check(sent, now);
  assert.equal(valid.map((v) => v.title), ["small"]);
  assert.is(why.length, 1);
  assert.match(why[0]!, new RegExp(`^alert 1: payload_too_large: \\d+ bytes, limit ${max}$`));
});

test.run();
