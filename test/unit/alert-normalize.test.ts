import { test } from "uvu";
import * as assert from "uvu/assert";
import { AlertRoutingPolicy } from "../../src/config/policies.js";
import { decodeAlertBytes, deriveFingerprint, makeAlertNormalizer, makeFastAlertParser } from "../../src/alerts/normalize.js";
import { alertInputSchema } from "../../src/subjects/index.js";

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

test("the fast path agrees with the zod schema: what it accepts, zod accepts with the same value", () => {
  const fast = makeFastAlertParser(policy.alerts);
  const schema = alertInputSchema(policy.alerts);
  const full = {
    service: "checkout-api", title: "  p99 latency above 1.2s  ", kind: "latency", severity: "critical", env: "staging",
    source: " prometheus@node1 ", message: "p99 1300ms > 1200ms", fingerprint: " fp-1 ",
    labels: { region: "eu-west-1", replicas: 3, canary: false }, starts_at: "2026-11-22T10:00:00.000Z",
    dedupe_ttl_minutes: 45, runbook: "https://wiki/x", team: { name: "payments" },
  };
  const values: unknown[] = [
    undefined, null, "", "   ", "x", " x ", "P1", "p1", "HIGH", "sev9", "latency", "nope", "prod", "qa", "a b", "svc:1.x_y-z", "-svc",
    "x".repeat(128), "x".repeat(129), "x".repeat(256), "x".repeat(257), "x".repeat(512), "x".repeat(513), "x".repeat(8001),
    "2026-11-22T10:00:00Z", "2026-11-22T10:00:00+02:00", "2026-11-22", "yesterday", 0, 1, 1.5, -3, 10080, 10081, Infinity, NaN, true,
    [], ["a"], {}, { a: "b" }, { a: 1, b: true }, { a: { nested: true } }, { a: null }, { ["k".repeat(129)]: "v" }, { a: "v".repeat(1025) },
    Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, i])), JSON.parse('{"__proto__": {"x": 1}}'),
  ];
  let compared = 0;
  let accepted = 0;
  const check = (input: unknown) => {
    const f = fast(input);
    compared++;
    if (f === undefined) return;
    accepted++;
    const z = schema.safeParse(input);
    assert.ok(z.success, `fast path accepted what zod refuses: ${JSON.stringify(input)}`);
    if (z.success) assert.equal(f, z.data, JSON.stringify(input));
  };
  check(full);
  check(base);
  for (const field of [...Object.keys(full), "extra"]) {
    for (const value of values) {
      const input: Record<string, unknown> = { ...full, [field]: value };
      check(input);
      const { [field]: _dropped, ...without } = input;
      check(without);
    }
  }
  check(JSON.parse('{"service":"a","title":"b","__proto__":{"x":1}}'));
  check(Object.assign(Object.create({ inherited: 1 }), base));
  assert.ok(accepted > compared / 4, `the fast path took ${accepted} of ${compared} inputs`);
  assert.ok(fast(full) !== undefined && fast(base) !== undefined, "a typical alert takes the fast path");
});

test.run();
