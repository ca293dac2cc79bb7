/** Inhibition with Alertmanager's semantics, on the shipped config/inhibit_rules.yml. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadPolicies } from "../../src/config/load.js";
import { InhibitRulesPolicy } from "../../src/config/inhibit-rules.js";
import { formatIssues } from "../../src/config/errors.js";
import { inhibitedBy, inhibitionsOf, indexInhibitionSources, type InhibitAlert, type InhibitRule } from "../../src/silences/inhibit.js";
import { alertLabels } from "../../src/silences/labels.js";
import type { AlertRecord } from "../../src/subjects/index.js";

const shipped = loadPolicies("config").inhibitRules.inhibit_rules;

type Fields = Pick<AlertRecord, "service" | "env" | "kind" | "severity" | "source" | "labels">;
function alert(fingerprint: string, over: Partial<Fields>): InhibitAlert {
  const fields: Fields = { service: "checkout", env: "prod", kind: "custom", severity: "P2", source: "prometheus", labels: {}, ...over };
  return { fingerprint, labels: alertLabels(fields) };
}

const rules = (yaml: unknown): InhibitRule[] => InhibitRulesPolicy.parse(yaml).inhibit_rules;

test("the shipped rule: a P0 crash inhibits its service's P3 latency alerts in the same env", () => {
  const crash = alert("crash", { kind: "crash", severity: "P0" });
  const latency = alert("lat", { kind: "latency", severity: "P3" });
  assert.equal(inhibitedBy(shipped, latency, [crash, latency]), ["crash"]);
  // Other env, other service, other severity or kind: not inhibited.
  assert.equal(inhibitedBy(shipped, alert("l2", { kind: "latency", severity: "P3", env: "staging" }), [crash]), []);
  assert.equal(inhibitedBy(shipped, alert("l3", { kind: "latency", severity: "P3", service: "payments" }), [crash]), []);
  assert.equal(inhibitedBy(shipped, alert("l4", { kind: "latency", severity: "P2" }), [crash]), []);
  assert.equal(inhibitedBy(shipped, alert("l5", { kind: "error_rate", severity: "P3" }), [crash]), []);
  // The crash itself is not a target; a P1 crash is not a source.
  assert.equal(inhibitedBy(shipped, crash, [crash, latency]), []);
  assert.equal(inhibitedBy(shipped, latency, [alert("c1", { kind: "crash", severity: "P1" })]), []);
});

test("the source resolving releases its targets", () => {
  const crash = alert("crash", { kind: "crash", severity: "P0" });
  const latency = alert("lat", { kind: "latency", severity: "P3" });
  assert.equal(inhibitedBy(shipped, latency, [{ ...crash, resolved: true }]), []);
  assert.equal(inhibitedBy(shipped, latency, []), []);
  // A second firing source keeps it inhibited when the first resolves.
  const crash2 = alert("crash2", { kind: "crash", severity: "P0", labels: { instance: "b" } });
  assert.equal(inhibitedBy(shipped, latency, [{ ...crash, resolved: true }, crash2]), ["crash2"]);
});

test("two-sided: an alert matching both sides is not inhibited by another that matches both", () => {
  const [rule] = rules({ inhibit_rules: [{ name: "p0-mutes-prod", source_matchers: ['severity="P0"'], target_matchers: ['env="prod"'], equal: ["service"] }] });
  const both1 = alert("both1", { severity: "P0", env: "prod" });
  const both2 = alert("both2", { severity: "P0", env: "prod" });
  const sourceOnly = alert("src", { severity: "P0", env: "staging" });
  const targetOnly = alert("tgt", { severity: "P3", env: "prod" });
  const firing = [both1, both2, sourceOnly, targetOnly];
  assert.equal(inhibitedBy([rule!], both1, [both1, both2]), [], "two two-sided alerts do not mute each other");
  assert.equal(inhibitedBy([rule!], both1, firing), ["src"], "a source-only alert does mute a two-sided one");
  assert.equal(inhibitedBy([rule!], targetOnly, firing), ["both1", "both2", "src"]);
  assert.equal(inhibitedBy([rule!], sourceOnly, firing), [], "not a target");
  const index = indexInhibitionSources([rule!], firing);
  assert.equal(inhibitionsOf(index, both2), [{ fingerprint: "src", rule: "p0-mutes-prod" }]);
});

test("no alert inhibits itself; equal labels missing on both sides count as equal", () => {
  const [rule] = rules({ inhibit_rules: [{ source_matchers: ['alertname="NodeDown"'], target_matchers: ['alertname=~"Node.*"'], equal: ["node", "cluster"] }] });
  const down = alert("down", { labels: { alertname: "NodeDown", node: "n1" } });
  assert.equal(inhibitedBy([rule!], down, [down]), [], "it matches both sides, and it is itself");
  const disk = alert("disk", { labels: { alertname: "NodeDisk", node: "n1" } });
  assert.equal(inhibitedBy([rule!], disk, [down]), ["down"], "cluster missing on both");
  assert.equal(inhibitedBy([rule!], alert("d2", { labels: { alertname: "NodeDisk", node: "n1", cluster: "eu" } }), [down]), []);
  assert.equal(inhibitionsOf(indexInhibitionSources([rule!], [down]), disk), [{ fingerprint: "down" }], "an unnamed rule");
});

test("rule files: matchers parsed at load, problems named with their path", () => {
  const raw = {
    inhibit_rules: [
      { name: "a", source_matchers: ['severity="P0'], target_matchers: [], equal: [""] },
      { name: "b", source_matchers: ['x=~"("'], target_matchers: ["a=b"], extra: 1 },
    ],
  };
  const r = InhibitRulesPolicy.safeParse(raw);
  assert.not.ok(r.success);
  const lines = r.success ? [] : formatIssues(r.error.issues, raw);
  assert.match(lines[0]!, /^at inhibit_rules\.0\.source_matchers\.0: got "severity=\\"P0"; matcher value contains unescaped double quote/);
  assert.match(lines[1]!, /^at inhibit_rules\.0\.target_matchers: got \[\]; at least one matcher/);
  assert.match(lines[2]!, /^at inhibit_rules\.0\.equal\.0: got ""; a label name/);
  assert.match(lines[3]!, /^at inhibit_rules\.1\.source_matchers\.0: .*error parsing regexp/);
  assert.match(lines[4]!, /Unrecognized key: "extra"/);
  const dup = InhibitRulesPolicy.safeParse({ inhibit_rules: [{ name: "x", source_matchers: ["a=b"], target_matchers: ["c=d"] }, { name: "x", source_matchers: ["a=b"], target_matchers: ["c=d"] }] });
  assert.match(dup.success ? "" : formatIssues(dup.error.issues, {}).join(), /at inhibit_rules\.1\.name: .*another rule is already named "x"/);
  // Every entry commented out leaves the key empty: no rules, not an error.
  assert.equal(InhibitRulesPolicy.parse({ inhibit_rules: null }), { inhibit_rules: [] });
});

test.run();
