/**
 * The notification routing tree with Alertmanager's semantics: its own route and dispatch test
 * trees (dispatch/route_test.go TestRouteMatch, dispatch_test.go TestGroups) written with
 * `matchers`, give the same receivers, options, route keys and group keys; time intervals are a
 * route's own; mute/active intervals on fixed instants.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "yaml";
import { NotificationRoutesPolicy } from "../../src/config/notification-routes.js";
import { incidentLabels } from "../../src/notify/labels.js";
import { compileRoutes, durationText, goQuote, groupOf, matchRoutes, routeAt, routeMuted, type MatchedRoute, type RouteTree } from "../../src/notify/routes.js";
import type { IncidentSnapshot } from "../../src/notify/types.js";

const treeOf = (yaml: string): RouteTree => compileRoutes(NotificationRoutesPolicy.parse(parse(yaml)));
const receivers = (tree: RouteTree, labels: Record<string, string>) => matchRoutes(tree, labels).map((r) => r.receiver);

// Alertmanager's TestRouteMatch tree, `match`/`match_re` written as `matchers`.
const AM_TREE = treeOf(`
route:
  receiver: notify-def
  routes:
    - matchers: ['owner="team-A"']
      receiver: notify-A
      routes:
        - matchers: ['env="testing"']
          receiver: notify-testing
          group_by: ['...']
        - matchers: ['env="production"']
          receiver: notify-productionA
          group_wait: 1m
          continue: true
        - matchers: ['env=~"produ.*"', 'job=~".*"']
          receiver: notify-productionB
          group_wait: 30s
          group_interval: 5m
          repeat_interval: 1h
          group_by: [job]
    - matchers: ['owner=~"team-(B|C)"']
      group_by: [foo, bar]
      group_wait: 2m
      receiver: notify-BC
    - matchers: ['group_by="role"']
      group_by: [role]
      routes:
        - matchers: ['env="testing"']
          receiver: notify-testing
          routes:
            - matchers: ['wait="long"']
              group_wait: 2m
`);

type Opts = Pick<MatchedRoute, "receiver" | "group_by" | "group_wait_ms" | "group_interval_ms" | "repeat_interval_ms" | "key">;
const opts = (r: MatchedRoute): Opts => ({ receiver: r.receiver, group_by: [...r.group_by], group_wait_ms: r.group_wait_ms, group_interval_ms: r.group_interval_ms, repeat_interval_ms: r.repeat_interval_ms, key: r.key });
const DEF = { group_by: [] as string[], group_wait_ms: 30_000, group_interval_ms: 300_000, repeat_interval_ms: 4 * 3_600_000 };

test("Alertmanager's TestRouteMatch: same receivers, inherited options and route keys, in order", () => {
  const cases: Array<[Record<string, string>, Opts[]]> = [
    [{ owner: "team-A" }, [{ ...DEF, receiver: "notify-A", key: '{}/{owner="team-A"}' }]],
    // No child matches: the node itself is the match.
    [{ owner: "team-A", env: "unset" }, [{ ...DEF, receiver: "notify-A", key: '{}/{owner="team-A"}' }]],
    [{ owner: "team-C" }, [{ ...DEF, receiver: "notify-BC", group_by: ["foo", "bar"], group_wait_ms: 120_000, key: '{}/{owner=~"team-(B|C)"}' }]],
    [{ owner: "team-A", env: "testing" }, [{ ...DEF, receiver: "notify-testing", group_by: ["..."], key: '{}/{owner="team-A"}/{env="testing"}' }]],
    // continue: true on the first match lets the next sibling match too.
    [
      { owner: "team-A", env: "production" },
      [
        { ...DEF, receiver: "notify-productionA", group_wait_ms: 60_000, key: '{}/{owner="team-A"}/{env="production"}' },
        { receiver: "notify-productionB", group_by: ["job"], group_wait_ms: 30_000, group_interval_ms: 300_000, repeat_interval_ms: 3_600_000, key: '{}/{owner="team-A"}/{env=~"produ.*",job=~".*"}' },
      ],
    ],
    // The receiver is inherited from the root through a route that names none.
    [{ group_by: "role" }, [{ ...DEF, receiver: "notify-def", group_by: ["role"], key: '{}/{group_by="role"}' }]],
    [{ env: "testing", group_by: "role" }, [{ ...DEF, receiver: "notify-testing", group_by: ["role"], key: '{}/{group_by="role"}/{env="testing"}' }]],
    [{ env: "testing", group_by: "role", wait: "long" }, [{ ...DEF, receiver: "notify-testing", group_by: ["role"], group_wait_ms: 120_000, key: '{}/{group_by="role"}/{env="testing"}/{wait="long"}' }]],
    // Nothing matches below the root: the default route.
    [{ owner: "team-Z" }, [{ ...DEF, receiver: "notify-def", key: "{}" }]],
  ];
  for (const [labels, want] of cases) assert.equal(matchRoutes(AM_TREE, labels).map(opts), want, JSON.stringify(labels));
});

test("a matching child without continue stops its later siblings; continue fans out to every matching sibling", () => {
  const tree = treeOf(`
route:
  receiver: default
  routes:
    - { matchers: ['severity="P0"'], receiver: pager, continue: true }
    - { matchers: ['service="checkout"'], receiver: checkout-team }
    - { matchers: ['severity=~"P0|P1"'], receiver: never-after-checkout }
`);
  assert.equal(receivers(tree, { severity: "P0", service: "checkout" }), ["pager", "checkout-team"]);
  assert.equal(receivers(tree, { severity: "P0", service: "search" }), ["pager", "never-after-checkout"]);
  assert.equal(receivers(tree, { severity: "P1", service: "search" }), ["never-after-checkout"]);
  // Only a continue route matched: the fan-out still has a match, so the root is not added.
  const onlyPager = treeOf(`
route:
  receiver: default
  routes:
    - { matchers: ['severity="P0"'], receiver: pager, continue: true }
`);
  assert.equal(receivers(onlyPager, { severity: "P0" }), ["pager"]);
  assert.equal(receivers(onlyPager, { severity: "P2" }), ["default"]);
  assert.equal(matchRoutes(onlyPager, { severity: "P0" }).map((r) => r.path), ["0"]);
});

test("regex matchers are fully anchored; a missing label matches as the empty string; != and !~", () => {
  const tree = treeOf(`
route:
  receiver: default
  routes:
    - { matchers: ['service=~"check"'], receiver: exact-only }
    - { matchers: ['service=~"pay.*"', 'env!="dev"'], receiver: payments }
    - { matchers: ['team=""'], receiver: no-team }
    - { matchers: ['region!~"eu-.*"'], receiver: outside-eu }
`);
  assert.equal(receivers(tree, { service: "checkout", team: "x", region: "eu-west" }), ["default"]);
  assert.equal(receivers(tree, { service: "check", team: "x" }), ["exact-only"]);
  assert.equal(receivers(tree, { service: "payments", env: "prod" }), ["payments"]);
  assert.equal(receivers(tree, { service: "payments", env: "dev", region: "eu-1" }), ["no-team"]);
  assert.equal(receivers(tree, { service: "x", team: "t", region: "us-east" }), ["outside-eu"]);
});

test("paths, and routeAt finds a route by its path", () => {
  const matched = matchRoutes(AM_TREE, { owner: "team-A", env: "production" });
  assert.equal(matched.map((r) => r.path), ["0.1", "0.2"]);
  assert.is(routeAt(AM_TREE, "")!.receiver, "notify-def");
  assert.is(routeAt(AM_TREE, "2.0.0")!.group_wait_ms, 120_000);
  assert.is(routeAt(AM_TREE, "0.2")!.key, matched[1]!.key);
  for (const bad of ["9", "0.9", "a", "0..1", "-1"]) assert.is(routeAt(AM_TREE, bad), undefined, bad);
});

test("group keys are Alertmanager's (dispatch_test.go TestGroups): route key, then the group_by labels the incident has", () => {
  const tree = treeOf(`
route:
  group_by: [alertname]
  receiver: prod
  routes:
    - { matchers: ['env="testing"'], receiver: testing, group_by: [alertname, service] }
    - { matchers: ['env="prod"'], receiver: prod, group_by: [alertname, service, cluster], continue: true }
    - { matchers: ['kafka="yes"'], receiver: kafka, group_by: [alertname, service, cluster] }
`);
  const keys = (labels: Record<string, string>) => matchRoutes(tree, labels).map((r) => groupOf(r, labels).group_key);
  assert.equal(keys({ alertname: "OtherAlert", cluster: "cc", service: "dd" }), ['{}:{alertname="OtherAlert"}']);
  assert.equal(keys({ env: "testing", alertname: "TestingAlert", service: "api", instance: "inst1" }), ['{}/{env="testing"}:{alertname="TestingAlert", service="api"}']);
  assert.equal(keys({ env: "prod", alertname: "HighErrorRate", cluster: "aa", service: "api", instance: "inst2" }), ['{}/{env="prod"}:{alertname="HighErrorRate", cluster="aa", service="api"}']);
  assert.equal(keys({ env: "prod", alertname: "HighLatency", cluster: "bb", service: "db", kafka: "yes", instance: "inst3" }), [
    '{}/{env="prod"}:{alertname="HighLatency", cluster="bb", service="db"}',
    '{}/{kafka="yes"}:{alertname="HighLatency", cluster="bb", service="db"}',
  ]);
  const ref = groupOf(routeAt(tree, "1")!, { env: "prod", service: "api", alertname: "X" });
  assert.equal(ref, { path: "1", group_key: '{}/{env="prod"}:{alertname="X", service="api"}', group_labels: { alertname: "X", service: "api" } });
});

test("group keys are stable: label order and matcher order in the file do not change them; '...' groups by every label", () => {
  const a = treeOf(`route: { receiver: r, group_by: [service, env], routes: [{ matchers: ['b="2"', 'a=~"1"', 'a="1"'] }] }`);
  const b = treeOf(`route: { receiver: r, group_by: [env, service], routes: [{ matchers: ['a="1"', 'b="2"', 'a=~"1"'] }] }`);
  const l1 = { service: "checkout", env: "prod", a: "1", b: "2" };
  const l2 = { b: "2", a: "1", env: "prod", service: "checkout" };
  const k1 = groupOf(matchRoutes(a, l1)[0]!, l1).group_key;
  assert.is(k1, '{}/{a="1",a=~"1",b="2"}:{env="prod", service="checkout"}');
  assert.is(groupOf(matchRoutes(b, l2)[0]!, l2).group_key, k1);
  const all = treeOf(`route: { receiver: r, group_by: ['...'] }`);
  assert.is(groupOf(matchRoutes(all, l2)[0]!, l2).group_key, '{}:{a="1", b="2", env="prod", service="checkout"}');
  // Values are quoted as Go's strconv.Quote does; matcher values with OpenMetrics escapes.
  const odd = { service: 'a"b\\c\nd\u0001é\u00a0' };
  assert.is(groupOf(matchRoutes(treeOf(`route: { receiver: r, group_by: [service] }`), odd)[0]!, odd).group_key, '{}:{service="a\\"b\\\\c\\nd\\x01é\\u00a0"}');
  assert.is(goQuote("\t\x7f🙂"), '"\\t\\x7f🙂"');
  const esc = treeOf(`route: { receiver: r, routes: [{ matchers: ['x="a\\"b"'] }] }`);
  assert.is(routeAt(esc, "0")!.key, '{}/{x="a\\"b"}');
});

test("inheritance: receiver, group_by and timings come from the nearest ancestor that sets them; Alertmanager's defaults at the root", () => {
  const tree = treeOf(`
route:
  receiver: default
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_by: [service]
      group_interval: 10m
      routes:
        - matchers: ['severity="P0"']
          repeat_interval: 15m
          routes:
            - matchers: ['env="prod"']
              group_by: []
`);
  const [deep] = matchRoutes(tree, { team: "db", severity: "P0", env: "prod" });
  assert.equal(opts(deep!), { receiver: "db", group_by: [], group_wait_ms: 30_000, group_interval_ms: 600_000, repeat_interval_ms: 900_000, key: '{}/{team="db"}/{severity="P0"}/{env="prod"}' });
  const [mid] = matchRoutes(tree, { team: "db", severity: "P0" });
  assert.equal(mid!.group_by, ["service"]);
  assert.is(mid!.notify, "incidents");
});

test("time intervals are a route's own, never inherited (Alertmanager's newRoute)", () => {
  const tree = treeOf(`
route:
  receiver: default
  routes:
    - matchers: ['team="db"']
      mute_time_intervals: [nights]
      active_time_intervals: [weekdays]
      routes:
        - matchers: ['severity="P0"']
time_intervals:
  - name: nights
    time_intervals: [{ times: [{ start_time: "22:00", end_time: "24:00" }] }]
  - name: weekdays
    time_intervals: [{ weekdays: ["monday:friday"] }]
`);
  const [parent] = matchRoutes(tree, { team: "db" });
  const [child] = matchRoutes(tree, { team: "db", severity: "P0" });
  assert.equal([parent!.mute_time_intervals, parent!.active_time_intervals], [["nights"], ["weekdays"]]);
  assert.equal([child!.mute_time_intervals, child!.active_time_intervals], [[], []]);
});

test("routeMuted on fixed instants: a mute interval mutes; outside every active interval mutes; mute is checked first; DST in the zone", () => {
  const tree = treeOf(`
route:
  receiver: default
  routes:
    - { matchers: ['a="1"'], mute_time_intervals: [nights-berlin] }
    - { matchers: ['a="2"'], active_time_intervals: [business-hours, saturday] }
    - { matchers: ['a="3"'], mute_time_intervals: [nights-berlin], active_time_intervals: [business-hours] }
time_intervals:
  - name: nights-berlin
    time_intervals:
      - times: [{ start_time: "22:00", end_time: "24:00" }, { start_time: "00:00", end_time: "07:00" }]
        location: Europe/Berlin
  - name: business-hours
    time_intervals: [{ weekdays: ["monday:friday"], times: [{ start_time: "09:00", end_time: "17:00" }] }]
  - name: saturday
    time_intervals: [{ weekdays: [saturday] }]
`);
  const r = (a: string) => matchRoutes(tree, { a })[0]!;
  const at = (iso: string) => new Date(iso);
  // 2026-03-02 is a Monday. Berlin is UTC+1 in winter, UTC+2 from 2026-03-29.
  assert.equal(routeMuted(r("1"), tree.intervals, at("2026-03-02T21:30:00Z")), { muted: true, by: "nights-berlin", reason: "mute_time_interval" });
  assert.equal(routeMuted(r("1"), tree.intervals, at("2026-03-02T20:59:59Z")), { muted: false });
  assert.equal(routeMuted(r("1"), tree.intervals, at("2026-03-03T05:59:00Z")), { muted: true, by: "nights-berlin", reason: "mute_time_interval" });
  assert.equal(routeMuted(r("1"), tree.intervals, at("2026-03-03T06:00:00Z")), { muted: false }, "07:00 Berlin: the end is exclusive");
  // Summer time: 21:30 UTC is 23:30 in Berlin (muted), 05:30 UTC is 07:30 (not).
  assert.is(routeMuted(r("1"), tree.intervals, at("2026-07-01T21:30:00Z")).muted, true);
  assert.is(routeMuted(r("1"), tree.intervals, at("2026-07-02T05:30:00Z")).muted, false);

  assert.equal(routeMuted(r("2"), tree.intervals, at("2026-03-02T10:00:00Z")), { muted: false });
  assert.equal(routeMuted(r("2"), tree.intervals, at("2026-03-07T03:00:00Z")), { muted: false }, "Saturday: the second active interval");
  assert.equal(routeMuted(r("2"), tree.intervals, at("2026-03-02T17:00:00Z")), { muted: true, by: "business-hours, saturday", reason: "outside_active_time_intervals" });
  assert.equal(routeMuted(r("2"), tree.intervals, at("2026-03-08T12:00:00Z")).muted, true, "Sunday");

  assert.equal(routeMuted(r("3"), tree.intervals, at("2026-03-02T23:00:00Z")), { muted: true, by: "nights-berlin", reason: "mute_time_interval" });
  // No intervals: never muted.
  assert.equal(routeMuted(matchRoutes(tree, {})[0]!, tree.intervals, at("2026-03-02T23:00:00Z")), { muted: false });
  assert.throws(() => routeMuted({ mute_time_intervals: ["nope"], active_time_intervals: [] }, tree.intervals, at("2026-03-02T23:00:00Z")), /undefined time interval "nope"/);
});

test("incidentLabels: the incident's labels with its own service, env and severity over them; no title", () => {
  const incident: IncidentSnapshot = {
    id: "inc-1",
    service: "checkout",
    env: "prod",
    severity: "P0",
    title: "checkout is down",
    status: "open",
    started_at: "2026-03-02T10:00:00.000Z",
    alert_count: 3,
    reopened_count: 0,
    labels: JSON.parse('{"alertname":"HighErrorRate","severity":"critical","kind":"error_rate","source":"alertmanager","team":"payments","__proto__":"x"}') as Record<string, string>,
  };
  const labels = incidentLabels(incident);
  assert.equal({ ...labels }, { alertname: "HighErrorRate", severity: "P0", kind: "error_rate", source: "alertmanager", team: "payments", ["__proto__"]: "x", service: "checkout", env: "prod" });
  assert.is(Object.getPrototypeOf(labels), null);
  assert.not.ok("title" in labels);
  // An escalated incident routes on its new severity.
  const tree = treeOf(`route: { receiver: default, routes: [{ matchers: ['severity="P0"'], receiver: pager }] }`);
  assert.equal(receivers(tree, labels), ["pager"]);
});

test("durationText writes Prometheus durations", () => {
  for (const [ms, text] of [[0, "0s"], [90_000, "1m30s"], [4 * 3_600_000, "4h"], [86_400_000, "1d"], [8 * 86_400_000, "1w1d"], [1500, "1s500ms"]] as const) assert.is(durationText(ms), text);
});

test.run();
