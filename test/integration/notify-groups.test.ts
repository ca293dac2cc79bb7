/**
 * Alert-group notifications (a route with `notify: alert_groups`) end to end: two opsbus processes'
 * worth of notifiers (two stacks, each with the notifier role, on one nats-server; alerts and
 * incidents in one Postgres database) and a plain HTTP webhook receiver written here, not opsbus
 * code. Three alerts of a group within group_wait make one webhook listing the three (for each of
 * four groups: one each, whichever notifier flushed it); a fourth alert makes one more, no sooner
 * than group_interval after, listing four; resolving all four makes one `resolved`; then the group
 * is gone and nothing more is sent. Every body is Alertmanager's webhook v4, without `incident`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Kvm } from "@nats-io/kv";
import { NotificationRoutesPolicy } from "../../src/config/notification-routes.js";
import { ReceiversPolicy } from "../../src/config/receivers.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

interface Received {
  at: number;
  key: string;
  body: {
    version: string; groupKey: string; status: string; receiver: string; truncatedAlerts: number;
    groupLabels: Record<string, string>; commonLabels: Record<string, string>; externalURL: string;
    alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; fingerprint: string; generatorURL: string }>;
  };
}

const AM_V4_KEYS = ["alerts", "commonAnnotations", "commonLabels", "externalURL", "groupKey", "groupLabels", "receiver", "status", "truncatedAlerts", "version"];
const GROUP_WAIT_MS = 2_000;
const GROUP_INTERVAL_MS = 3_000;
const NAMES = ["DiskFull", "HighLoad", "SlowQuery", "ReplicaLag"] as const;

let nats: NatsServerHandle;
let db: TestDatabase;
let server: Server;
let a: Stack, b: Stack;
const got: Received[] = [];

test.before(async () => {
  // The receiver: a plain HTTP server that keeps what it was sent.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ at: Date.now(), key: String(req.headers["idempotency-key"]), body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  process.env.GROUPS_E2E_HOOK = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  nats = await startNatsServer();
  db = await createTestDatabase();
  const receivers = ReceiversPolicy.parse({ receivers: [{ name: "team-db", webhook: { url_env: "GROUPS_E2E_HOOK" } }] });
  const notificationRoutes = NotificationRoutesPolicy.parse({
    route: {
      receiver: "team-db", notify: "alert_groups", group_by: ["alertname"],
      group_wait: `${GROUP_WAIT_MS}ms`, group_interval: `${GROUP_INTERVAL_MS}ms`, repeat_interval: "1h",
    },
  });
  const env = { ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", DATABASE_URL: db.url };
  const policies = { receivers, notificationRoutes } as never;
  a = await startStack({ nats, roles: ["alerts-in", "notifier"], env: { ...env, NODE_ID: "notifier-a" }, policies });
  b = await startStack({ nats, roles: ["notifier"], env: { ...env, NODE_ID: "notifier-b" }, policies });
});

test.after(async () => {
  await b?.stop();
  await a?.stop();
  await nats?.cleanup();
  await db?.drop();
  await new Promise((r) => server?.close(r));
});

const fire = (name: string, instance: string) =>
  a.publishAlert({ service: "db", title: `${name} on ${instance}`, kind: "custom", severity: "P2", env: "prod", fingerprint: `${name}-${instance}`, labels: { alertname: name, instance }, annotations: { summary: `${name} on ${instance}` } });
const resolve = (name: string, instance: string) => a.publishAlert({ service: "db", fingerprint: `${name}-${instance}`, status: "resolved" });
const of = (name: string) => got.filter((r) => r.body.groupLabels.alertname === name);

test("three alerts of a group within group_wait: one webhook listing the three, per group, across two notifiers", async () => {
  const started = Date.now();
  for (const name of NAMES) for (const i of ["db-1", "db-2", "db-3"]) await fire(name, i);
  await waitFor(() => NAMES.every((n) => of(n).length >= 1), { timeoutMs: 20_000, message: "one flush per group" });
  for (const name of NAMES) {
    const [r] = of(name);
    assert.equal(Object.keys(r!.body).sort(), AM_V4_KEYS, "Alertmanager's webhook v4 body, no incident");
    assert.equal([r!.body.version, r!.body.status, r!.body.receiver, r!.body.truncatedAlerts], ["4", "firing", "team-db", 0]);
    assert.is(r!.body.groupKey, `{}:{alertname="${name}"}`);
    assert.equal(r!.body.alerts.map((x) => [x.labels.instance, x.status, x.endsAt]), [["db-1", "firing", "0001-01-01T00:00:00Z"], ["db-2", "firing", "0001-01-01T00:00:00Z"], ["db-3", "firing", "0001-01-01T00:00:00Z"]]);
    assert.equal(r!.body.commonLabels.alertname, name);
    assert.is(r!.body.alerts[0]!.annotations.summary, `${name} on db-1`);
    assert.match(r!.key, /^grp-[0-9a-f]{24}\.1\.team-db$/);
  }
  assert.ok(got[0]!.at - started >= GROUP_WAIT_MS - 200, "not before group_wait");
});

test("a fourth alert: one more webhook, group_interval after the first, listing four", async () => {
  const first = of("DiskFull")[0]!;
  await fire("DiskFull", "db-4");
  await waitFor(() => of("DiskFull").length >= 2, { timeoutMs: 20_000, message: "the second DiskFull flush" });
  const second = of("DiskFull")[1]!;
  assert.equal(second.body.alerts.map((x) => x.labels.instance), ["db-1", "db-2", "db-3", "db-4"]);
  assert.ok(second.at - first.at >= GROUP_INTERVAL_MS - 500, `group_interval kept (${second.at - first.at} ms)`);
  assert.match(second.key, /\.2\.team-db$/);
});

test("resolving all four: one resolved notification, then the group is gone and nothing more is sent", async () => {
  for (const i of ["db-1", "db-2", "db-3", "db-4"]) await resolve("DiskFull", i);
  await waitFor(() => of("DiskFull").length >= 3, { timeoutMs: 20_000, message: "the resolved DiskFull flush" });
  const last = of("DiskFull")[2]!;
  assert.is(last.body.status, "resolved");
  assert.equal(last.body.alerts.map((x) => x.status), ["resolved", "resolved", "resolved", "resolved"]);
  assert.ok(last.body.alerts.every((x) => x.endsAt !== "0001-01-01T00:00:00Z"), "resolved alerts carry their end");
  // The group is deleted once its resolved flush is on the outbox (what a later flush would come from).
  const kv = await new Kvm(a.js).open(a.running.ctx.subjects.notify.groupsBucket);
  const groupId = last.key.split(".")[0]!;
  await waitFor(async () => {
    const e = await kv.get(groupId);
    return !e || e.operation !== "PUT";
  }, { timeoutMs: 10_000, message: "the DiskFull group deleted" });
  await waitFor(async () => (await a.running.ctx.sentLog.list({ kind: "alert_group", status: "delivered", limit: 100 })).length === got.length, { message: "every flush recorded delivered" });

  // Exactly one delivery per flush, whichever of the two notifiers sent it.
  assert.is(got.length, NAMES.length + 2);
  assert.is(new Set(got.map((r) => r.key)).size, got.length, "one request per key");
  const records = await a.running.ctx.sentLog.list({ kind: "alert_group", limit: 100 });
  assert.ok(records.every((r) => r.group && r.incident_id === undefined && r.attempts.length === 1), "group records: no incident, one attempt each");
  assert.equal((await a.running.ctx.sentLog.ofGroup(groupId)).map((r) => [r.seq, r.group!.status]), [[1, "firing"], [2, "firing"], [3, "resolved"]]);
  const sent = a.events("notification.sent").filter((e) => e.data.moment === "alert_group");
  assert.is(sent.length, got.length, "notification.sent for each, naming the group");
  assert.ok(sent.every((e) => typeof e.data.group_id === "string" && e.data.incident_id === undefined));
});

test.run();
