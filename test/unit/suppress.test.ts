/**
 * Suppression at ingest and its release (src/alerts/suppress.ts) over the memory store: what holds
 * a new firing back is stored with it; a silence written with the sender's label value or with
 * opsbus's mapped one both apply; the release sweep queues work once (two sweepers racing) and
 * keeps an alert held while anything still holds it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { evaluateSuppression, makeSuppressAtIngest, sweepSuppressed, type ReleaseDeps, type SuppressionRules } from "../../src/alerts/suppress.js";
import { InhibitRulesPolicy } from "../../src/config/inhibit-rules.js";
import { MaintenanceWindowsPolicy } from "../../src/config/maintenance-windows.js";
import { compileSilence } from "../../src/silences/silence-rules.js";
import type { Silence } from "../../src/silences/silence.js";
import { indexSilences } from "../../src/silences/suppression.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { subjects } from "../../src/subjects/index.js";
import { createLogger } from "../../src/log.js";
import type { NewAlert } from "../../src/alerts/store.js";
import { item, T0 } from "../conformance/fixtures.js";

const silence = (id: string, matchers: Array<[string, string, boolean?]>): Silence => ({
  id,
  matchers: matchers.map(([name, value, is_regex]) => ({ name, value, is_regex: is_regex ?? false, is_equal: true })),
  starts_at: new Date(T0.getTime() - 60_000).toISOString(),
  ends_at: new Date(T0.getTime() + 3_600_000).toISOString(),
  created_by: "helion",
  comment: "planned",
  updated_at: T0.toISOString(),
});

function rulesWith(silences: Silence[], extra: Partial<SuppressionRules> = {}): () => SuppressionRules {
  return () => ({ silences: indexSilences(silences.map(compileSilence)), windows: [], inhibitRules: [], ...extra });
}

async function stored(store: MemoryAlertStore, fp: string, alert: Partial<NewAlert> = {}) {
  const [r] = await store.ingestBatch([item(fp, { alert })], T0);
  const rec = (await store.get(r!.alert_ref))!;
  return { alert_ref: rec.alert_ref, alert: rec };
}

test("a silence matches the sender's label value and opsbus's mapped one; a held firing is stored suppressed", async () => {
  const store = new MemoryAlertStore();
  // An Alertmanager `severity="critical"` alert, mapped to P0.
  const am = await stored(store, "am", { severity: "P0", labels: { alertname: "DiskFull", severity: "critical" } });
  const other = await stored(store, "other", { severity: "P0", labels: { alertname: "HighLatency", severity: "critical" } });
  const deps = { store, now: () => T0 };
  for (const value of ["critical", "P0"]) {
    const held = await evaluateSuppression({ ...deps, rules: rulesWith([silence(`s-${value}`, [["alertname", "DiskFull"], ["severity", value]])]) }, [am, other]);
    assert.equal([...held], [[am.alert_ref, { silenced_by: [`s-${value}`], inhibited_by: [], muted_by: [] }]], value);
  }
  const suppress = makeSuppressAtIngest({ ...deps, rules: rulesWith([silence("s1", [["alertname", "Disk.*", true]])]) });
  await suppress([am, other]);
  assert.equal([(await store.get(am.alert_ref))?.status, (await store.get(am.alert_ref))?.suppression?.silenced_by], ["suppressed", ["s1"]]);
  assert.is((await store.get(other.alert_ref))?.status, "new");
});

test("inhibition reads firing sources from the store; a maintenance window mutes by name", async () => {
  const store = new MemoryAlertStore();
  const crash = await stored(store, "crash", { service: "payments", severity: "P0", kind: "crash" });
  const slow = await stored(store, "slow", { service: "payments", severity: "P3", kind: "latency" });
  const elsewhere = await stored(store, "slow-search", { service: "search", severity: "P3", kind: "latency" });
  const inhibitRules = InhibitRulesPolicy.parse({ inhibit_rules: [{ source_matchers: ['severity="P0"', 'kind="crash"'], target_matchers: ['severity="P3"', 'kind="latency"'], equal: ["service", "env"] }] }).inhibit_rules;
  const windows = MaintenanceWindowsPolicy.parse({ windows: [{ name: "search-weekly", matchers: ['service="search"'], time_intervals: [{ weekdays: ["sunday"] }] }] }).windows;
  // T0 is Sunday 2026-03-01: the search window is open.
  const held = await evaluateSuppression({ store, now: () => T0, rules: rulesWith([], { inhibitRules, windows }) }, [crash, slow, elsewhere]);
  assert.equal(held.get(slow.alert_ref)?.inhibited_by, ["crash"]);
  assert.equal(held.get(elsewhere.alert_ref), { silenced_by: [], inhibited_by: [], muted_by: ["search-weekly"] });
  assert.not.ok(held.has(crash.alert_ref));
});

test("inhibition reads only the severities and kinds the rules' sources name: 600 newer firing targets of the service do not crowd out its source", async () => {
  const store = new MemoryAlertStore();
  const [c] = await store.ingestBatch([item("crash", { alert: { service: "payments", severity: "P0", kind: "crash" } })], new Date(T0.getTime() - 10 * 60_000));
  const crowd = Array.from({ length: 600 }, (_, i) => item(`slow-${i}`, { alert: { service: "payments", severity: "P3", kind: "latency" } }));
  await store.ingestBatch(crowd, T0);
  const target = await stored(store, "slow-new", { service: "payments", severity: "P3", kind: "latency" });
  const inhibitRules = InhibitRulesPolicy.parse({ inhibit_rules: [{ source_matchers: ['severity="P0"', 'kind="crash"'], target_matchers: ['severity="P3"', 'kind="latency"'], equal: ["service", "env"] }] }).inhibit_rules;
  const held = await evaluateSuppression({ store, now: () => T0, rules: rulesWith([], { inhibitRules }) }, [target]);
  assert.equal(held.get(target.alert_ref)?.inhibited_by, ["crash"], `the source ${c!.alert_ref} read among the payments alerts`);
});

test("the release sweep: still held stays; released once, though two sweepers race", async () => {
  const store = new MemoryAlertStore();
  const a = await stored(store, "a", { labels: { alertname: "A" } });
  const b = await stored(store, "b", { labels: { alertname: "B" } });
  let silences = [silence("sa", [["alertname", "A"]]), silence("sb", [["alertname", "B"]])];
  const rules = () => rulesWith(silences)();
  await makeSuppressAtIngest({ store, now: () => T0, rules })([a, b]);
  const published: string[] = [];
  const events: string[] = [];
  const deps: ReleaseDeps = {
    store,
    rules,
    now: () => T0,
    subjects: subjects(),
    publishWork: async (_subject, _data, msgID) => void published.push(msgID),
    events: { publish: async (type: string, _data: unknown, id: string) => void events.push(`${type} ${id}`) } as unknown as ReleaseDeps["events"],
    logger: createLogger({ level: "silent" }),
  };
  assert.is(await sweepSuppressed(deps), 0, "both still silenced");
  silences = [silences[1]!]; // sa expired and gone
  const [one, two] = await Promise.all([sweepSuppressed(deps), sweepSuppressed(deps)]);
  assert.is(one! + two!, 1, "one sweeper flips the status");
  assert.equal(new Set(published), new Set([`work:${a.alert_ref}:1:released`]), "same message id from both: JetStream keeps one");
  assert.equal(events, [`alert.accepted ${a.alert_ref}:1:released`]);
  assert.equal([(await store.get(a.alert_ref))?.status, (await store.get(b.alert_ref))?.status], ["new", "suppressed"]);
});

test("a maintenance window on a fixed clock: muted inside, released by the sweep once it closes (Berlin time)", async () => {
  const store = new MemoryAlertStore();
  const windows = MaintenanceWindowsPolicy.parse({
    windows: [{ name: "db-patching", matchers: ['service="db"'], time_intervals: [{ times: [{ start_time: "02:00", end_time: "04:00" }], location: "Europe/Berlin" }] }],
  }).windows;
  let clock = new Date("2026-03-01T01:30:00Z"); // 02:30 in Berlin (CET): inside
  const rules = rulesWith([], { windows });
  const db = await stored(store, "db", { service: "db" });
  const held = await makeSuppressAtIngest({ store, now: () => clock, rules })([db]);
  assert.equal(held.get(db.alert_ref)?.muted_by, ["db-patching"]);
  const published: string[] = [];
  const deps: ReleaseDeps = {
    store, rules, now: () => clock, subjects: subjects(),
    publishWork: async (_s, _d, msgID) => void published.push(msgID),
    events: { publish: async () => undefined } as unknown as ReleaseDeps["events"],
    logger: createLogger({ level: "silent" }),
  };
  clock = new Date("2026-03-01T02:59:00Z"); // 03:59 Berlin: still inside
  assert.is(await sweepSuppressed(deps), 0);
  clock = new Date("2026-03-01T03:00:00Z"); // 04:00 Berlin: the window's end is exclusive
  assert.is(await sweepSuppressed(deps), 1);
  assert.equal(published, [`work:${db.alert_ref}:1:released`]);
});

test.run();
