/**
 * A silence created while its alerts already fire mutes their alert-group notifications, as
 * Alertmanager's mute stage does: a loopback webhook receiver (the test harness's, not opsbus
 * code) gets the group's repeats every repeat_interval; once one alert is silenced a repeat lists
 * the other alone; with both silenced the repeats stop (the group still holds them); expiring the
 * silences tells both again.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Kvm } from "@nats-io/kv";
import { NotificationRoutesPolicy } from "../../src/config/notification-routes.js";
import { ReceiversPolicy } from "../../src/config/receivers.js";
import type { GroupState } from "../../src/notify/groups.js";
import { startHttpReceiver, type HttpReceiver, type RecordedRequest } from "../harness/receivers.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

interface Received {
  at: number;
  key: string;
  instances: string[];
}

const REPEAT_MS = 1_500;
let hook: HttpReceiver;
let s: Stack;
/** What the receiver got, each request as the instances it listed. */
const received = (r: RecordedRequest): Received => ({
  at: r.at,
  key: String(r.headers["idempotency-key"]),
  instances: (r.json as { alerts: Array<{ labels: Record<string, string> }> }).alerts.map((a) => a.labels.instance ?? "").sort(),
});
const got = () => hook.requests.map(received);

test.before(async () => {
  hook = await startHttpReceiver();
  process.env.GROUPS_SILENCE_HOOK = hook.url;
  const receivers = ReceiversPolicy.parse({ receivers: [{ name: "team-db", webhook: { url_env: "GROUPS_SILENCE_HOOK" } }] });
  const notificationRoutes = NotificationRoutesPolicy.parse({
    route: { receiver: "team-db", notify: "alert_groups", group_by: ["alertname"], group_wait: "200ms", group_interval: "500ms", repeat_interval: `${REPEAT_MS}ms` },
  });
  s = await startStack({ roles: ["gateway", "alerts-in", "notifier"], policies: { receivers, notificationRoutes } as never });
});

test.after(async () => {
  await s?.stop();
  await hook?.close();
});

const fire = (instance: string) =>
  s.publishAlert({ service: "db", title: `Flaky on ${instance}`, kind: "custom", severity: "P3", env: "prod", fingerprint: `Flaky-${instance}`, labels: { alertname: "Flaky", instance } });
const silence = async (instance: string): Promise<string> => {
  const r = await s.call<{ silence_id: string }>("silence_tool", "create", { matchers: [`instance=${instance}`], duration_minutes: 30, comment: "known" }, { agent: "helion" });
  assert.ok(r.ok, JSON.stringify(r));
  return (r as { result: { silence_id: string } }).result.silence_id;
};
const expire = async (id: string) => {
  const r = await s.call("silence_tool", "expire", { id }, { agent: "helion" });
  assert.ok(r.ok, JSON.stringify(r));
};
const after = (t: number) => got().filter((r) => r.at > t);

test("repeats leave out what a silence holds back since, stop while it holds back all, and tell both again once expired", async () => {
  await fire("db-1");
  await fire("db-2");
  await hook.waitFor(2, 20_000);
  assert.equal(got().slice(0, 2).map((r) => r.instances), [["db-1", "db-2"], ["db-1", "db-2"]], "both told, then repeated");

  const one = await silence("db-1");
  const silencedAt = Date.now();
  const alone = await waitFor(() => after(silencedAt).find((r) => r.instances.length === 1) ?? null, { timeoutMs: 20_000, message: "a repeat without the silenced alert" });
  assert.equal(alone.instances, ["db-2"]);

  const two = await silence("db-2");
  const bothAt = Date.now();
  // A flush past a repeat due after the second silence: one that told someone would have moved
  // notified_at on, so the wait would not end. A notification decided just before the silence
  // may still be on its way for a moment.
  const groupId = alone.key.split(".")[0]!;
  const kv = await new Kvm(s.js).open(s.running.ctx.subjects.notify.groupsBucket);
  const group = async () => (await kv.get(groupId))?.json<GroupState>();
  await waitFor(async () => {
    const g = await group();
    return g && g.flushed_at && g.notified_at && Date.parse(g.flushed_at) >= Math.max(Date.parse(g.notified_at) + REPEAT_MS, bothAt + REPEAT_MS) ? g : null;
  }, { timeoutMs: 20_000, message: "a flush after a repeat was due" });
  const quiet = after(bothAt + 1_000);
  assert.equal(quiet, [], "no repeat while both are silenced");
  assert.equal(Object.keys((await group())!.alerts).sort(), ["Flaky-db-1", "Flaky-db-2"], "the group still holds both");

  await expire(one);
  await expire(two);
  const expiredAt = Date.now();
  const back = await waitFor(() => after(expiredAt).find((r) => r.instances.length === 2) ?? null, { timeoutMs: 20_000, message: "both told again" });
  assert.equal(back.instances, ["db-1", "db-2"]);
});

test.run();
