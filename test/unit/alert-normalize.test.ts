import { test } from "uvu";
import * as assert from "uvu/assert";
import { AlertRoutingPolicy } from "../../src/config/policies.js";
import { decodeAlertBytes, deriveFingerprint, makeAlertNormalizer } from "../../src/alerts/normalize.js";

const policy = AlertRoutingPolicy.parse({});
const now = new Date("2026-11-22T10:00:00Z");
const normalize = makeAlertNormalizer(policy, () => now);
const base = { service: "checkout", title: "p95 over SLO", kind: "latency" };

test("defaults: severity P2, env prod, source unknown, starts_at now, policy dedupe TTL", () => {
  const r = normalize(base);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal([r.item.alert.severity, r.item.alert.env, r.item.alert.source, r.item.alert.starts_at], ["P2", "prod", "unknown", now.toISOString()]);
  assert.is(r.item.dedupe_ttl_minutes, 30);
});

test("severity names map onto P0..P3, case-insensitively; P-levels pass through", () => {
  const sev = (severity: string) => {
    const r = normalize({ ...base, severity });
    return r.ok ? r.item.alert.severity : r.reasons.join();
  };
  assert.equal(["critical", "HIGH", "warning", "info", "P0", "p1"].map(sev), ["P0", "P1", "P2", "P3", "P0", "P1"]);
  assert.match(sev("sev9"), /severity: one of/);
});

test("fingerprint: derived from service, kind, title and labels (label order irrelevant); an explicit one wins", () => {
  const a = normalize({ ...base, labels: { region: "eu", pod: "a" } });
  const b = normalize({ ...base, labels: { pod: "a", region: "eu" } });
  const c = normalize({ ...base, labels: { pod: "b", region: "eu" } });
  assert.ok(a.ok && b.ok && c.ok);
  if (!a.ok || !b.ok || !c.ok) return;
  assert.is(a.item.alert.fingerprint, b.item.alert.fingerprint);
  assert.is.not(a.item.alert.fingerprint, c.item.alert.fingerprint);
  assert.is(a.item.alert.fingerprint, deriveFingerprint(a.item.alert));
  const explicit = normalize({ ...base, fingerprint: "mine" });
  assert.ok(explicit.ok && explicit.item.alert.fingerprint === "mine");
});

test("unknown fields are kept in meta, never dropped", () => {
  const r = normalize({ ...base, runbook: "https://wiki/x", team: { name: "payments" } });
  assert.ok(r.ok);
  if (r.ok) assert.equal(r.item.alert.meta, { runbook: "https://wiki/x", team: { name: "payments" } });
});

test("invalid alerts list every reason with its field", () => {
  const r = normalize({ title: "", kind: "nope", env: "qa", labels: { a: { nested: true } } });
  assert.not.ok(r.ok);
  if (r.ok) return;
  for (const field of ["service", "title", "kind", "env", "labels.a"]) assert.ok(r.reasons.some((x) => x.startsWith(`${field}:`)), `${field} in ${r.reasons.join(" | ")}`);
  assert.equal(normalize([1, 2]), { ok: false, reasons: ["(root): expected a JSON object"] });
  assert.equal(normalize(null), { ok: false, reasons: ["(root): expected a JSON object"] });
});

test("decode refuses oversize, non-UTF-8 and non-JSON payloads with a reason", () => {
  const enc = new TextEncoder();
  assert.equal(decodeAlertBytes(enc.encode('{"a":1}'), 100), { ok: true, value: { a: 1 } });
  const big = decodeAlertBytes(enc.encode("x".repeat(101)), 100);
  assert.ok(!big.ok && big.reasons[0]!.startsWith("payload_too_large"));
  const bad = decodeAlertBytes(new Uint8Array([0xff, 0xfe, 0x7b]), 100);
  assert.ok(!bad.ok && bad.reasons[0] === "payload is not valid UTF-8");
  const notJson = decodeAlertBytes(enc.encode("{oops"), 100);
  assert.ok(!notJson.ok && notJson.reasons[0]!.startsWith("payload is not valid JSON"));
});

test.run();
