/** Silence validation (Alertmanager's rules plus opsbus bounds), compilation and in-place updates. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { alertLabels } from "../../src/silences/labels.js";
import type { Silence, SilenceMatcher } from "../../src/silences/silence.js";
import { canUpdateInPlace, compileSilence, SILENCE_BOUNDS, SilenceError, validateSilence, type SilenceInput } from "../../src/silences/silence-rules.js";

const now = new Date("2026-05-04T12:00:00Z");
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
const eq = (name: string, value: string): SilenceMatcher => ({ name, value, is_regex: false, is_equal: true });
const re = (name: string, value: string, is_equal = true): SilenceMatcher => ({ name, value, is_regex: true, is_equal });
const input = (over: Partial<SilenceInput> = {}): SilenceInput => ({ matchers: [eq("service", "checkout")], starts_at: at(-5), ends_at: at(60), comment: "deploy", ...over });
const silence = (over: Partial<Silence> = {}): Silence => ({ id: "s1", created_by: "alice", updated_at: at(-5), ...input(), ...over });

test("a plain silence is valid; an active one that ends later too", () => {
  assert.equal(validateSilence(input(), now), []);
  assert.equal(validateSilence(input({ matchers: [eq("alertname", "X"), re("service", "check.*")] }), now), []);
});

test("matchers: at least one, one that does not match the empty string, valid names, regexes that compile", () => {
  assert.equal(validateSilence(input({ matchers: [] }), now), ["at least one matcher required"]);
  assert.equal(validateSilence(input({ matchers: [eq("a", ""), re("b", ".*")] }), now), ["at least one matcher must not match the empty string"]);
  // Alertmanager counts a negative matcher as not matching the empty string.
  assert.equal(validateSilence(input({ matchers: [{ name: "env", value: "prod", is_regex: false, is_equal: false }] }), now), []);
  const reasons = validateSilence(input({ matchers: [eq("", "x"), re("job", "(unclosed")] }), now);
  assert.is(reasons.length, 2);
  assert.match(reasons[0]!, /^invalid label matcher 0: invalid label name ""/);
  assert.match(reasons[1]!, /^invalid label matcher 1: invalid regular expression "\(unclosed": error parsing regexp: missing closing \)/);
  assert.match(validateSilence(input({ matchers: [eq("a", "x\uD800")] }), now)[0]!, /invalid label value .*lone UTF-16 surrogate/);
});

test("bounds: a 100 KB regex, too many matchers and a long comment are refused with a reason, quickly", () => {
  const huge = "a|".repeat(50_000) + "b";
  const reasons = validateSilence(input({ matchers: [re("service", huge)] }), now);
  assert.equal(reasons, [`invalid label matcher 0: regular expression is ${huge.length} characters, at most ${SILENCE_BOUNDS.maxValueChars}`]);
  const many = Array.from({ length: SILENCE_BOUNDS.maxMatchers + 1 }, (_, i) => eq(`l${i}`, "v"));
  assert.equal(validateSilence(input({ matchers: many }), now), [`65 matchers, at most ${SILENCE_BOUNDS.maxMatchers}`]);
  assert.equal(validateSilence(input({ matchers: many.slice(1) }), now), []);
  // Bytes, not characters: 2,049 two-byte characters are 4,098 bytes.
  assert.equal(validateSilence(input({ comment: "é".repeat(2049) }), now), ["comment is 4098 bytes, at most 4096"]);
  assert.equal(validateSilence(input({ comment: "é".repeat(2048) }), now), []);
});

test("times: start before end, parseable, and with `now` an end in the past is refused", () => {
  assert.equal(validateSilence(input({ starts_at: at(10), ends_at: at(10) }), now), ["start time must be before end time"]);
  assert.equal(validateSilence(input({ starts_at: "soon", ends_at: at(10) }), now), ["invalid start timestamp"]);
  assert.equal(validateSilence(input({ starts_at: at(-60), ends_at: at(-1) }), now), ["end time can't be in the past"]);
  // Re-checking a stored silence that has since expired.
  assert.equal(validateSilence(input({ starts_at: at(-60), ends_at: at(-1) })), []);
});

test("garbage never throws: every problem comes back as a reason", () => {
  const bad = (v: unknown) => validateSilence(v as SilenceInput, now);
  assert.ok(bad(null).length >= 3);
  assert.ok(bad({ matchers: "x", starts_at: 1, ends_at: null, comment: 7 }).includes("comment must be a string"));
  assert.match(bad({ ...input(), matchers: [null] })[0]!, /matcher 0: not an object/);
  assert.match(bad({ ...input(), matchers: [{ name: "a", value: "b", is_regex: "yes" }] })[0]!, /must be booleans/);
  assert.match(bad({ ...input(), matchers: [{ name: "a", value: 5, is_regex: false }] })[0]!, /invalid label value 5/);
});

test("compiled: anchored regexes, negatives, a missing label as empty, time from starts_at to ends_at", () => {
  const s = compileSilence(silence({ matchers: [re("service", "check.*"), { name: "env", value: "dev", is_regex: false, is_equal: false }] }));
  const labels = (service: string, env = "prod") => alertLabels({ service, env: env as "prod", kind: "custom", severity: "P2", source: "x", labels: {} });
  assert.equal([s.matches(labels("checkout")), s.matches(labels("xcheckout")), s.matches(labels("checkout", "dev"))], [true, false, false]);
  const missing = compileSilence(silence({ matchers: [re("team", "ops|"), eq("service", "checkout")] }));
  assert.ok(missing.matches(labels("checkout")), "team is missing, and the regex accepts the empty string");
  const t = (iso: string) => Date.parse(iso);
  assert.equal([s.activeAt(t(at(-6))), s.activeAt(t(at(-5))), s.activeAt(t(at(59))), s.activeAt(t(at(60)))], [false, true, true, false]);
  try {
    compileSilence(silence({ matchers: [re("a", "(")] }));
    assert.unreachable("compiled an invalid silence");
  } catch (err) {
    assert.instance(err, SilenceError);
    assert.match((err as SilenceError).reasons[0]!, /invalid regular expression/);
  }
});

test("canUpdateInPlace follows Alertmanager's canUpdate", () => {
  const active = silence();
  const pending = silence({ starts_at: at(30), ends_at: at(90) });
  const expired = silence({ starts_at: at(-90), ends_at: at(-30) });
  const same = (s: Silence, over: Partial<Silence>) => ({ matchers: s.matchers, starts_at: s.starts_at, ends_at: s.ends_at, ...over });
  // Active: extend or shorten, never into the past; the start stays (to the second).
  assert.ok(canUpdateInPlace(active, same(active, { ends_at: at(120) }), now));
  assert.ok(canUpdateInPlace(active, same(active, { ends_at: at(0) }), now));
  assert.ok(canUpdateInPlace(active, same(active, { starts_at: new Date(Date.parse(active.starts_at) + 400).toISOString() }), now));
  assert.not.ok(canUpdateInPlace(active, same(active, { ends_at: at(-1) }), now));
  assert.not.ok(canUpdateInPlace(active, same(active, { starts_at: at(-4) }), now));
  assert.not.ok(canUpdateInPlace(active, same(active, { matchers: [eq("service", "payments")] }), now));
  assert.not.ok(canUpdateInPlace(active, same(active, { matchers: [{ ...eq("service", "checkout"), is_equal: false }] }), now));
  // Pending: may move its start, but not into the past.
  assert.ok(canUpdateInPlace(pending, same(pending, { starts_at: at(10) }), now));
  assert.not.ok(canUpdateInPlace(pending, same(pending, { starts_at: at(-1) }), now));
  // Expired: never.
  assert.not.ok(canUpdateInPlace(expired, same(expired, { ends_at: at(60) }), now));
});

test("the label set: own labels as text, the mapped fields win, __proto__ is just a label", () => {
  const labels = alertLabels({
    service: "checkout",
    env: "prod",
    kind: "crash",
    severity: "P0",
    source: "alertmanager",
    labels: JSON.parse('{"severity":"critical","job":"api","replicas":3,"up":false,"__proto__":"x"}'),
  });
  assert.equal({ ...labels }, { severity: "P0", job: "api", replicas: "3", up: "false", ["__proto__"]: "x", service: "checkout", env: "prod", kind: "crash", source: "alertmanager" });
  assert.is(Object.getPrototypeOf(labels), null);
  const s = compileSilence(silence({ matchers: [eq("__proto__", "x")] }));
  assert.ok(s.matches(labels));
});

test.run();
