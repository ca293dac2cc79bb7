/**
 * config/notification_routes.yml validation through loadPolicy: Alertmanager's refusals (root
 * receiver, root matchers/continue/intervals, zero intervals, group_by rules, interval names), each
 * naming the file, the path, the value and what is allowed; the shipped file and its commented
 * examples load; receivers are cross-checked by name.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/config/errors.js";
import { loadPolicies, loadPolicy } from "../../src/config/load.js";
import { checkRoutesAgainstReceivers, ROUTE_BOUNDS } from "../../src/config/notification-routes.js";
import { compileRoutes, describeTree, matchRoutes } from "../../src/notify/routes.js";

const dirs: string[] = [];
function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "routes-cfg-"));
  dirs.push(dir);
  writeFileSync(join(dir, "notification_routes.yml"), yaml);
  return loadPolicy(dir, "notificationRoutes");
}

/** The problems of a refused file, each `at <path>: got <value>; <why>`; asserts the message names the file. */
function problems(yaml: string): string[] {
  try {
    load(yaml);
  } catch (err) {
    assert.instance(err, ConfigError);
    const e = err as ConfigError;
    assert.ok(e.file.endsWith("notification_routes.yml"), e.file);
    assert.ok(e.message.startsWith(`${e.file}: invalid configuration`), e.message);
    return e.problems;
  }
  assert.unreachable(`accepted: ${yaml}`);
  return [];
}

test("the shipped file loads with loadPolicies: a default receiver, grouped by service and env, paging at once", () => {
  const policies = loadPolicies("config");
  const tree = compileRoutes(policies.notificationRoutes);
  const [root] = matchRoutes(tree, { service: "checkout", env: "prod", severity: "P1" });
  assert.equal(
    { receiver: root!.receiver, group_by: root!.group_by, wait: root!.group_wait_ms, interval: root!.group_interval_ms, repeat: root!.repeat_interval_ms },
    { receiver: "default", group_by: ["service", "env"], wait: 0, interval: 60_000, repeat: 4 * 3_600_000 },
  );
  assert.equal(checkRoutesAgainstReceivers(policies.notificationRoutes, ["default"]), []);
});

test("the shipped file's commented examples are valid when uncommented, and route as they say", () => {
  const text = readFileSync("config/notification_routes.yml", "utf8");
  const start = text.indexOf("\nroute:");
  const body = text
    .slice(start)
    .replace("routes: []", "routes:")
    .replace("time_intervals: []", "time_intervals:")
    .split("\n")
    .map((line) => line.replace(/^(\s*)# {2}/, "$1  "))
    .join("\n");
  const policy = load(text.slice(0, start) + body);
  assert.equal(checkRoutesAgainstReceivers(policy, ["default", "pager", "team-chat"]), []);
  const tree = compileRoutes(policy);
  assert.equal(matchRoutes(tree, { severity: "P0", env: "prod" }).map((r) => r.receiver), ["pager", "default"]);
  assert.equal(matchRoutes(tree, { severity: "P1", env: "prod" }).map((r) => r.receiver), ["default"]);
  assert.equal(matchRoutes(tree, { severity: "P1", env: "prod" }).map((r) => r.path), ["2"], "the catch-all route, not the root");
  const chat = matchRoutes(tree, { severity: "P3", env: "staging" });
  assert.equal(chat.map((r) => [r.receiver, r.mute_time_intervals]), [["team-chat", ["nights"]]]);
  assert.match(describeTree(tree), /\[0\] \{severity="P0"\}  continue: true  receiver: pager  repeat_interval: 30m/);
});

test("Alertmanager's root rules: a default receiver; no matchers, continue or time intervals on the root", () => {
  assert.equal(problems(`route: { matchers: ['team="a"'], continue: true, mute_time_intervals: [n], active_time_intervals: [n] }\ntime_intervals: [{ name: n, time_intervals: [{ weekdays: [monday] }] }]`), [
    "at route.receiver: got (missing); the root route must name a default receiver (every route below inherits it)",
    'at route.matchers: got ["team=\\"a\\""]; the root route must not have matchers: it is the fallback for every incident; put them on a child route',
    "at route.continue: got true; the root route cannot have continue: it has no siblings",
    'at route.mute_time_intervals: got ["n"]; the root route must not have mute time intervals; put them on a child route',
    'at route.active_time_intervals: got ["n"]; the root route must not have active time intervals; put them on a child route',
  ]);
  assert.equal(problems("time_intervals: []"), ["at route: got (missing); the root route is required, e.g. route: { receiver: default }"]);
  assert.equal(problems(""), ["at route: got (missing); the root route is required, e.g. route: { receiver: default }"]);
  assert.equal(problems("route: { receiver: '' }"), ['at route.receiver: got ""; a non-empty name']);
});

test("durations: Prometheus syntax; group_interval and repeat_interval never zero, group_wait may be", () => {
  assert.equal(problems("route: { receiver: r, routes: [{ group_wait: -1s, group_interval: 0s, repeat_interval: 0m }, { group_wait: soon }] }"), [
    'at route.routes.0.group_wait: got "-1s"; not a duration: "-1s" (e.g. 30s, 5m, 4h, 1d12h)',
    'at route.routes.0.group_interval: got "0s"; group_interval cannot be zero (e.g. 5m)',
    'at route.routes.0.repeat_interval: got "0m"; repeat_interval cannot be zero (e.g. 5m)',
    'at route.routes.1.group_wait: got "soon"; not a duration: "soon" (e.g. 30s, 5m, 4h, 1d12h)',
  ]);
  const policy = load("route: { receiver: r, group_wait: 0s, group_interval: 1d12h, repeat_interval: 90m }");
  assert.equal([policy.route.group_wait, policy.route.group_interval, policy.route.repeat_interval], [0, 36 * 3_600_000, 90 * 60_000]);
});

test("unknown keys list the allowed ones; Alertmanager's deprecated match/match_re say what to write; notify is incidents or alert_groups", () => {
  const got = problems("route: { receiver: r, routes: [{ match: { a: b } }, { recevier: x }, { notify: alert_groups }, { notify: pages }] }");
  assert.equal(got, [
    `at route.routes.0: got {"match":{"a":"b"}}; match and match_re are Alertmanager's deprecated forms; write matchers: ['name="value"', 'name=~"regex"']`,
    'at route.routes.1: got {"recevier":"x"}; unknown key "recevier"; allowed: receiver, matchers, group_by, group_wait, group_interval, repeat_interval, continue, mute_time_intervals, active_time_intervals, notify, routes',
    'at route.routes.3.notify: got "pages"; Invalid option: expected one of "incidents"|"alert_groups"',
  ]);
  assert.equal(problems("route: { receiver: r }\nreceivers: []"), ['at (root): got {"route":{"receiver":"r"},"receivers":[]}; Unrecognized key: "receivers"']);
});

test("notify: alert_groups is accepted on any route, inherited by its children, and shown by routes show", () => {
  const policy = load(`route:
  receiver: r
  routes:
    - matchers: ['team="db"']
      notify: alert_groups
      routes:
        - matchers: ['env="prod"']
    - matchers: ['team="web"']
`);
  assert.is(policy.route.routes[0]!.notify, "alert_groups");
  const tree = compileRoutes(policy);
  assert.equal(matchRoutes(tree, { team: "db", env: "prod" }).map((r) => [r.path, r.notify]), [["0.0", "alert_groups"]], "a child inherits its parent's notify");
  assert.equal(matchRoutes(tree, { team: "web" }).map((r) => [r.path, r.notify]), [["1", "incidents"]], "the default stays incidents");
  const shown = describeTree(tree);
  assert.match(shown, /\[0\] \{team="db"\}  receiver: r  notify: alert_groups/);
  assert.not.match(shown, /\[0\.0\].*notify:/, "an inherited notify is not repeated");
  assert.match(load("route: { receiver: r, notify: alert_groups }").route.notify ?? "", /^alert_groups$/, "the root may say it too");
});

test("matchers and group_by: the parser's reason; label names; '...' alone; no duplicates", () => {
  assert.equal(problems(`route: { receiver: r, group_by: ['...', a], routes: [{ group_by: [a, a, 'b-c'] }, { matchers: ['a=~"("', 'b~c'] }] }`), [
    `at route.group_by: got ["...","a"]; cannot have wildcard group_by ('...') and other labels at the same time`,
    `at route.routes.0.group_by.2: got "b-c"; a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '...' for every label`,
    'at route.routes.0.group_by.1: got "a"; duplicated label "a" in group_by',
    'at route.routes.1.matchers.0: got "a=~\\"(\\""; error parsing regexp: missing closing ): `^(?:()$`',
    'at route.routes.1.matchers.1: got "b~c"; bad matcher format: b~c',
  ]);
});

test("time interval names: unique, defined where a route names them (the message lists the defined ones)", () => {
  const intervals = `time_intervals:
  - { name: nights, time_intervals: [{ times: [{ start_time: "22:00", end_time: "24:00" }] }] }
  - { name: weekends, time_intervals: [{ weekdays: [saturday, sunday] }] }`;
  assert.equal(problems(`route: { receiver: r, routes: [{ mute_time_intervals: [nights, night] }, { routes: [{ active_time_intervals: [weekend] }] }] }\n${intervals}`), [
    'at route.routes.0.mute_time_intervals.1: got "night"; undefined time interval "night"; defined: nights, weekends',
    'at route.routes.1.routes.0.active_time_intervals.0: got "weekend"; undefined time interval "weekend"; defined: nights, weekends',
  ]);
  assert.equal(problems(`route: { receiver: r, routes: [{ mute_time_intervals: [x] }] }`), ['at route.routes.0.mute_time_intervals.0: got "x"; undefined time interval "x"; no time_intervals are defined']);
  assert.equal(problems(`route: { receiver: r }\n${intervals}\n  - { name: nights, time_intervals: [{ weekdays: [monday] }] }`), ['at time_intervals.2.name: got "nights"; time interval "nights" is not unique']);
  assert.equal(problems(`route: { receiver: r }\ntime_intervals: [{ name: n, time_intervals: [] }, { name: m, time_intervals: [{ weekdays: [funday], location: Mars/Olympus }] }]`), [
    "at time_intervals.0.time_intervals: got []; at least one time interval (an empty list never contains any time)",
    'at time_intervals.1.time_intervals.0.weekdays.0: got "funday"; funday is not a valid weekday',
    'at time_intervals.1.time_intervals.0.location: got "Mars/Olympus"; an IANA time zone such as Europe/Berlin or UTC',
  ]);
});

test("bounds: depth and size of the tree are checked before it is parsed", () => {
  const nest = (n: number) => "{ routes: [".repeat(n) + "{}" + "] }".repeat(n);
  assert.ok(load(`route: { receiver: r, routes: [${nest(ROUTE_BOUNDS.maxDepth - 1)}] }`));
  const deep = problems(`route: { receiver: r, routes: [${nest(ROUTE_BOUNDS.maxDepth)}] }`);
  assert.equal(deep.length, 1);
  assert.match(deep[0]!, new RegExp(`^at route: got .*; routes nest more than ${ROUTE_BOUNDS.maxDepth} levels deep$`));
  const wide = problems(`route: { receiver: r, routes: [${Array.from({ length: ROUTE_BOUNDS.maxRoutes }, () => "{}").join(",")}] }`);
  assert.match(wide[0]!, new RegExp(`more than ${ROUTE_BOUNDS.maxRoutes} routes in the tree$`));
});

test("checkRoutesAgainstReceivers: every route naming an undefined receiver, with its path and the defined names", () => {
  const policy = load(`route: { receiver: default, routes: [{ receiver: pager }, { routes: [{ receiver: pagr }, { matchers: ['a="1"'] }] }] }`);
  assert.equal(checkRoutesAgainstReceivers(policy, ["default", "pager"]), ['at route.routes.1.routes.0.receiver: undefined receiver "pagr" used in route; defined receivers: default, pager']);
  assert.equal(checkRoutesAgainstReceivers(policy, []), [
    'at route.receiver: undefined receiver "default" used in route; no receivers are defined',
    'at route.routes.0.receiver: undefined receiver "pager" used in route; no receivers are defined',
    'at route.routes.1.routes.0.receiver: undefined receiver "pagr" used in route; no receivers are defined',
  ]);
});

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test.run();
