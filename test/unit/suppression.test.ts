/** What suppresses an alert: silences (indexed), maintenance windows, inhibition; hostile input stays bounded. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MaintenanceWindowsPolicy } from "../../src/config/maintenance-windows.js";
import { formatIssues } from "../../src/config/errors.js";
import { loadPolicies } from "../../src/config/load.js";
import { alertLabels, type Labels } from "../../src/silences/labels.js";
import type { Silence, SilenceMatcher } from "../../src/silences/silence.js";
import { compileSilence, validateSilence, type CompiledSilence } from "../../src/silences/silence-rules.js";
import { indexSilences, isSuppressed, prepareSuppression, silencedBy, suppressionOf } from "../../src/silences/suppression.js";
import type { AlertRecord } from "../../src/subjects/index.js";

const now = new Date("2026-05-04T12:00:00Z");
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
const m = (name: string, value: string, op: "=" | "!=" | "=~" | "!~" = "="): SilenceMatcher => ({ name, value, is_regex: op.endsWith("~"), is_equal: !op.startsWith("!") });
const silence = (id: string, matchers: SilenceMatcher[], over: Partial<Silence> = {}): CompiledSilence =>
  compileSilence({ id, matchers, starts_at: at(-10), ends_at: at(60), created_by: "alice", comment: "", updated_at: at(-10), ...over });

type Fields = Pick<AlertRecord, "service" | "env" | "kind" | "severity" | "source" | "labels">;
const labelsOf = (over: Partial<Fields> = {}): Labels =>
  alertLabels({ service: "checkout", env: "prod", kind: "latency", severity: "P3", source: "prometheus", labels: {}, ...over });

const policies = loadPolicies("config");
const empty = { silences: [], windows: [], inhibitRules: [], firing: [] };

test("silenced_by: active silences whose matchers all hold, by id; pending and expired ones never", () => {
  const s = prepareSuppression({
    ...empty,
    silences: [
      silence("s-b", [m("service", "checkout")]),
      silence("s-a", [m("service", "check.*", "=~"), m("env", "dev", "!=")]),
      silence("s-other", [m("service", "payments")]),
      silence("s-pending", [m("service", "checkout")], { starts_at: at(5), ends_at: at(60) }),
      silence("s-expired", [m("service", "checkout")], { starts_at: at(-60), ends_at: at(-1) }),
    ],
  });
  const r = suppressionOf(s, { fingerprint: "f1", labels: labelsOf() }, now);
  assert.equal(r, { silenced_by: ["s-a", "s-b"], inhibited_by: [], muted_by: [] });
  assert.ok(isSuppressed(r));
  assert.equal(suppressionOf(s, { fingerprint: "f1", labels: labelsOf() }, new Date(Date.parse(at(5)))).silenced_by, ["s-a", "s-b", "s-pending"]);
  const none = suppressionOf(s, { fingerprint: "f2", labels: labelsOf({ service: "search" }) }, now);
  assert.not.ok(isSuppressed(none));
});

test("the index answers exactly what checking every silence answers (1,000 silences, mixed matchers)", () => {
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const silences: CompiledSilence[] = [];
  for (let i = 0; i < 1000; i++) {
    const kind = rand(6);
    const matchers =
      kind === 0 ? [m("service", `svc-${rand(50)}`)]
      : kind === 1 ? [m("alertname", `A${rand(20)}`), m("service", `svc-${rand(50)}.*`, "=~")]
      : kind === 2 ? [m("service", `svc-${rand(50)}`), m("env", "prod"), m("severity", `P${rand(4)}`, "!=")]
      : kind === 3 ? [m("team", `t${rand(5)}|t${rand(5)}`, "=~")]
      : kind === 4 ? [m("instance", "", "="), m("env", "dev", "!="), m("kind", "crash")]
      : [m("severity", `P${rand(4)}`, "!="), m("team", "t1|t2", "!~")];
    silences.push(silence(`s${String(i).padStart(4, "0")}`, matchers, rand(10) === 0 ? { starts_at: at(-60), ends_at: at(-1) } : {}));
  }
  const index = indexSilences(silences);
  // Only the silences with nothing but negative matchers are checked against every alert.
  assert.equal(index.unindexed.map((s) => s.matchers.every((x) => x.type.startsWith("!"))), index.unindexed.map(() => true));
  assert.ok(index.unindexed.length > 0 && index.unindexed.length < 250, `${index.unindexed.length}`);
  assert.equal([...index.byRegex.keys()], ["team"]);
  let matched = 0;
  for (let i = 0; i < 500; i++) {
    const labels = labelsOf({
      service: `svc-${rand(60)}`,
      kind: rand(3) === 0 ? "crash" : "latency",
      severity: `P${rand(4)}` as "P0",
      labels: { alertname: `A${rand(25)}`, ...(rand(2) ? { team: `t${rand(6)}` } : {}), ...(rand(3) ? {} : { instance: "i1" }) },
    });
    const brute = silences.filter((s) => s.activeAt(now.getTime()) && s.matches(labels)).map((s) => s.id).sort();
    assert.equal(silencedBy(index, labels, now), brute);
    matched += brute.length;
  }
  assert.ok(matched > 100, `the workload matches something (${matched})`);
});

test("muted_by: a maintenance window from YAML, inside its Berlin hours only, for its alerts only", () => {
  const windows = MaintenanceWindowsPolicy.parse({
    windows: [
      {
        name: "checkout-db-patching",
        matchers: ['service="checkout"', 'env=~"prod|staging"'],
        time_intervals: [{ weekdays: ["monday"], times: [{ start_time: "14:00", end_time: "15:00" }], location: "Europe/Berlin" }],
      },
    ],
  }).windows;
  const s = prepareSuppression({ ...empty, windows });
  const check = (iso: string, service = "checkout") => suppressionOf(s, { fingerprint: "f", labels: labelsOf({ service }) }, new Date(iso)).muted_by;
  // Monday 2026-05-04, CEST (UTC+2): 14:00-15:00 local is 12:00-13:00 UTC.
  assert.equal(check("2026-05-04T12:00:00Z"), ["checkout-db-patching"]);
  assert.equal(check("2026-05-04T12:59:59Z"), ["checkout-db-patching"]);
  assert.equal(check("2026-05-04T13:00:00Z"), []);
  assert.equal(check("2026-05-04T11:59:00Z"), []);
  assert.equal(check("2026-05-04T12:30:00Z", "payments"), []);
  assert.equal(policies.maintenanceWindows.windows, [], "none shipped");
});

test("window files: problems named with their path; names unique; an empty key is no windows", () => {
  const raw = { windows: [{ name: "w 1", matchers: [], time_intervals: [{ times: [{ start_time: "05:00", end_time: "04:00" }], location: "Nowhere/X" }] }] };
  const r = MaintenanceWindowsPolicy.safeParse(raw);
  const lines = r.success ? [] : formatIssues(r.error.issues, raw);
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^at windows\.0\.name: got "w 1"; letters, digits/);
  assert.match(lines[1]!, /^at windows\.0\.matchers: got \[\]; at least one matcher/);
  assert.match(lines[2]!, /^at windows\.0\.time_intervals\.0\.times\.0: .*start time cannot be equal or greater than end time/);
  assert.match(lines[3]!, /^at windows\.0\.time_intervals\.0\.location: got "Nowhere\/X"; an IANA time zone/);
  const w = { matchers: ["a=b"], time_intervals: [{}] };
  const dup = MaintenanceWindowsPolicy.safeParse({ windows: [{ name: "x", ...w }, { name: "x", ...w }] });
  assert.match(dup.success ? "" : formatIssues(dup.error.issues, {}).join(), /at windows\.1\.name: .*another window is already named "x"/);
  assert.equal(MaintenanceWindowsPolicy.parse({ windows: null }), { windows: [] });
});

test("inhibited_by: the shipped rule through prepareSuppression, released when the crash resolves", () => {
  const crash = { fingerprint: "crash", labels: labelsOf({ kind: "crash", severity: "P0" }) };
  const latency = { fingerprint: "lat", labels: labelsOf() };
  const firing = prepareSuppression({ ...empty, inhibitRules: policies.inhibitRules.inhibit_rules, firing: [crash, latency] });
  assert.equal(suppressionOf(firing, latency, now), { silenced_by: [], inhibited_by: ["crash"], muted_by: [] });
  const resolved = prepareSuppression({ ...empty, inhibitRules: policies.inhibitRules.inhibit_rules, firing: [{ ...crash, resolved: true }, latency] });
  assert.not.ok(isSuppressed(suppressionOf(resolved, latency, now)));
});

test("hostile input: (a+)+$ on a 100,000-character label finishes; a 100 KB regex is refused with a reason", () => {
  const s = prepareSuppression({ ...empty, silences: [silence("hostile", [m("payload", "(a+)+$", "=~")]), silence("plain", [m("service", "checkout")])] });
  const long = "a".repeat(100_000);
  const r1 = suppressionOf(s, { fingerprint: "f", labels: labelsOf({ labels: { payload: `${long}!` } }) }, now);
  assert.equal(r1.silenced_by, ["plain"]);
  const r2 = suppressionOf(s, { fingerprint: "f", labels: labelsOf({ labels: { payload: long } }) }, now);
  assert.equal(r2.silenced_by, ["hostile", "plain"]);
  const huge = `(${"a|".repeat(50_000)}b)+$`;
  const reasons = validateSilence({ matchers: [m("payload", huge, "=~")], starts_at: at(0), ends_at: at(60), comment: "" }, now);
  assert.equal(reasons.length, 1);
  assert.ok(huge.length > 100_000);
  assert.equal(reasons, [`invalid label matcher 0: regular expression is ${huge.length} characters, at most 1024`]);
});

test.run();
