/**
 * The alert-group planner (src/workers/notify-groups.ts) over memory stores on a fake clock: alert
 * events land in their route's group (only routes with notify: alert_groups; silenced refires
 * page nobody), two planners sweeping the same groups at once enqueue each flush once, and a
 * planner killed between storing a flush and enqueuing it leaves it to the next sweep, same key.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { NotificationRoutesPolicy } from "../../src/config/notification-routes.js";
import { createLogger } from "../../src/log.js";
import { compileRoutes, usesAlertGroups } from "../../src/notify/routes.js";
import type { GroupNotification } from "../../src/notify/types.js";
import { MemoryGroupStore } from "../../src/stores/notify/groups-memory.js";
import { MemorySentLog } from "../../src/stores/notify/memory.js";
import type { AlertRecord } from "../../src/subjects/index.js";
import { GroupPlanner, OUTBOX_RETRY_MS } from "../../src/workers/notify-groups.js";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const tree = compileRoutes(
  NotificationRoutesPolicy.parse({
    route: {
      receiver: "incidents-hook",
      routes: [{ matchers: ['team="db"'], receiver: "hook", notify: "alert_groups", group_by: ["alertname"], group_wait: "30s", group_interval: "5m", repeat_interval: "4h" }],
    },
  }),
);

function world() {
  let now = T0;
  const alerts = new Map<string, AlertRecord>();
  const groups = new MemoryGroupStore();
  const sentLog = new MemorySentLog();
  /** The outbox: deduped by key, as Nats-Msg-Id does. */
  const outbox = new Map<string, GroupNotification>();
  let failEnqueue = 0;
  const planner = () =>
    new GroupPlanner({
      alerts: { get: async (ref) => alerts.get(ref) ?? null, getMany: async (refs) => refs.flatMap((r) => (alerts.has(r) ? [alerts.get(r)!] : [])) },
      groups, sentLog, tree,
      receiver: (name) => (name === "hook" ? { kind: "webhook", max_alerts: 0 } : undefined),
      enqueue: async (n) => {
        if (failEnqueue > 0 && failEnqueue--) throw new Error("killed before the publish");
        if (!outbox.has(n.key)) outbox.set(n.key, n);
      },
      externalUrl: "https://opsbus.example.com",
      now: () => new Date(now),
      logger: createLogger({ level: "silent" }),
    });
  const alert = (name: string, instance: string, over: Partial<AlertRecord> = {}): AlertRecord => {
    const rec = {
      alert_ref: `ref-${name}-${instance}`, fingerprint: `fp-${name}-${instance}`, service: "db", title: name, kind: "metric", severity: "P2", env: "prod", source: "prometheus",
      labels: { alertname: name, instance, team: "db" }, meta: {}, starts_at: new Date(now).toISOString(), created_at: new Date(now).toISOString(), last_seen_at: new Date(now).toISOString(),
      dedupe_until: new Date(now + 3600_000).toISOString(), occurrences: 1, status: "new", attempts: 0, dead: false, ...over,
    } as AlertRecord;
    alerts.set(rec.alert_ref, rec);
    return rec;
  };
  const event = (type: string, rec: AlertRecord) => ({ type, ts: new Date(now).toISOString(), data: { alert_ref: rec.alert_ref, fingerprint: rec.fingerprint, known: true }, envelope_id: `e-${type}-${rec.alert_ref}`, stream_seq: 1 });
  return { alerts, groups, sentLog, outbox, planner, alert, event, advance: (s: number) => void (now += s * 1000), failNext: (n: number) => void (failEnqueue = n) };
}

test("a tree with no alert_groups route leaves alert events unread; one such route anywhere reads them", () => {
  const plain = compileRoutes(NotificationRoutesPolicy.parse({ route: { receiver: "r", routes: [{ matchers: ['team="db"'], receiver: "r2" }] } }));
  const deep = compileRoutes(NotificationRoutesPolicy.parse({ route: { receiver: "r", routes: [{ matchers: ['team="db"'], routes: [{ matchers: ['a="b"'], notify: "alert_groups" }] }] } }));
  assert.is(usesAlertGroups(plain), false);
  assert.is(usesAlertGroups(deep), true);
  assert.is(usesAlertGroups(tree), true);
  assert.is(world().planner().active, true);
});

test("alerts land in their alert_groups route's group; other routes and unknown alerts make no group", async () => {
  const w = world();
  const p = w.planner();
  assert.is((await p.handleEvent(w.event("alert.accepted", w.alert("DiskFull", "db-1")))).groups.length, 1);
  assert.is((await p.handleEvent(w.event("alert.accepted", w.alert("DiskFull", "db-2")))).groups.length, 1);
  assert.equal((await p.handleEvent(w.event("alert.accepted", w.alert("Other", "x", { labels: { alertname: "Other", team: "web" } })))).groups, [], "an incidents route is not an alert group's");
  assert.equal((await p.handleEvent({ ...w.event("alert.accepted", w.alert("Gone", "x")), data: { alert_ref: "nope" } })).groups, []);
  const all = w.groups.all();
  assert.is(all.length, 1);
  assert.equal(Object.keys(all[0]!.alerts).sort(), ["fp-DiskFull-db-1", "fp-DiskFull-db-2"]);
  assert.is(all[0]!.group_key, '{}/{team="db"}:{alertname="DiskFull"}');
  const silencedRefire = w.alert("DiskFull", "db-3", { status: "suppressed" });
  assert.equal((await p.handleEvent(w.event("alert.accepted", silencedRefire))).groups, [], "a firing held back since pages nobody");
});

test("two planners sweeping at once: one notification per flush; after a resolve, one resolved", async () => {
  const w = world();
  const [a, b] = [w.planner(), w.planner()];
  for (const i of ["db-1", "db-2", "db-3"]) await a.handleEvent(w.event("alert.accepted", w.alert("DiskFull", i)));
  assert.equal(await Promise.all([a.sweep(), b.sweep()]), [[], []], "nothing before group_wait");
  w.advance(30);
  const first = (await Promise.all([a.sweep(), b.sweep(), a.sweep()])).flat();
  assert.is(new Set(first).size, 1, "both sweepers name the same flush");
  assert.is(w.outbox.size, 1);
  const [n1] = [...w.outbox.values()];
  assert.equal([n1!.group.seq, n1!.group.status, n1!.alerts.map((x) => x.labels.instance)], [1, "firing", ["db-1", "db-2", "db-3"]]);
  assert.match(n1!.key, /^grp-[0-9a-f]{24}\.1\.hook$/);
  assert.is((await w.sentLog.get(n1!.key))!.record.group!.id, n1!.group.id, "the sent-log record names the group");

  await b.handleEvent(w.event("alert.accepted", w.alert("DiskFull", "db-4")));
  w.advance(60);
  assert.equal(await a.sweep(), [], "group_interval has not passed");
  w.advance(240);
  await Promise.all([a.sweep(), b.sweep()]);
  assert.equal([...w.outbox.values()].map((n) => n.alerts.length), [3, 4]);

  for (const i of ["db-1", "db-2", "db-3", "db-4"]) {
    const rec = w.alerts.get(`ref-DiskFull-${i}`)!;
    w.alerts.set(rec.alert_ref, { ...rec, resolved_at: new Date(T0 + 400_000).toISOString() });
    await (i < "db-3" ? a : b).handleEvent(w.event("alert.resolved", w.alerts.get(rec.alert_ref)!));
  }
  w.advance(300);
  await Promise.all([a.sweep(), b.sweep()]);
  const last = [...w.outbox.values()].at(-1)!;
  assert.equal([w.outbox.size, last.group.status, last.alerts.map((x) => x.status)], [3, "resolved", ["resolved", "resolved", "resolved", "resolved"]]);
  await Promise.all([a.sweep(), b.sweep()]);
  assert.equal(w.groups.all(), [], "an all-resolved group, told, is deleted");
});

test("a planner killed between storing a flush and enqueuing it: the next sweep enqueues it, same key, once", async () => {
  const w = world();
  const [a, b] = [w.planner(), w.planner()];
  await a.handleEvent(w.event("alert.accepted", w.alert("DiskFull", "db-1")));
  w.advance(30);
  w.failNext(1);
  assert.equal(await a.sweep(), [], "the flush is stored, its enqueue failed");
  assert.is(w.outbox.size, 0);
  assert.ok(w.groups.all()[0]!.outbox, "the group holds the pending flush");
  assert.equal(await b.sweep(), [], "another sweeper leaves a fresh pending flush to its planner");
  w.advance(OUTBOX_RETRY_MS / 1000);
  const keys = await b.sweep();
  assert.equal([keys.length, w.outbox.size, [...w.outbox.keys()]], [1, 1, keys]);
  assert.match(keys[0]!, /\.1\.hook$/, "the same flush number");
  assert.is(w.groups.all()[0]!.outbox, undefined);
});

test.run();
