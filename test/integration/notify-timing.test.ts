/**
 * The routing tree's timings on a test clock, over real NATS: `group_wait` holds an incident's
 * first notification until its time; `repeat_interval` re-notifies an open, unacknowledged incident
 * once per interval (however many sweeps run); an acknowledged incident gets no repeats; a reopen
 * is notified and clears the ack, so repeats resume an interval after it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { notifyOf } from "../../src/app/notify.js";
import { NotificationRoutesPolicy } from "../../src/config/notification-routes.js";
import { ReceiversPolicy } from "../../src/config/receivers.js";
import { listAllIncidents } from "../../src/incidents/query.js";
import { startHttpReceiver, type HttpReceiver } from "../harness/receivers.js";
import { VALIDATORS } from "../harness/receiver-schemas.js";
import { startStack, testClock, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let hook: HttpReceiver;
const clock = testClock();

test.before(async () => {
  hook = await startHttpReceiver({ validate: VALIDATORS.webhook });
  process.env.TIMING_HOOK = hook.url;
  const receivers = ReceiversPolicy.parse({ receivers: [{ name: "default", webhook: { url_env: "TIMING_HOOK" } }] });
  const notificationRoutes = NotificationRoutesPolicy.parse({
    route: { receiver: "default", group_by: ["service"], group_wait: "30s", group_interval: "1ms", repeat_interval: "4h" },
  });
  s = await startStack({
    roles: ["gateway", "alerts-in", "incident-bridge", "notifier"],
    now: clock.now,
    policies: { receivers, notificationRoutes, alertRouting: { defaults: { reopen_window_minutes: 24 * 60 } } } as never,
  });
});

test.after(async () => {
  await s?.stop();
  await hook?.close();
});

const moments = () => hook.requests.map((r) => String(r.headers["idempotency-key"]).split(".")[1]!.replace(/-.*/, ""));
const sweep = async () => {
  const ctx = s.running.ctx;
  return notifyOf(ctx).planner.sweepRepeats(await listAllIncidents(ctx.stores.incidents, { status: ["open", "mitigating"] }));
};

test("group_wait, repeat_interval, ack stops repeats, reopen notifies and clears the ack", async () => {
  await s.publishAlert({ service: "search", title: "latency", kind: "latency", severity: "P1", fingerprint: "search-latency" });
  const created = await waitFor(() => s.events("incident.created")[0], { message: "incident opened" });
  const id = created.data.incident_id as string;
  const sentLog = s.running.ctx.sentLog;
  const pending = await waitFor(async () => (await sentLog.get(`${id}.opened.default`))?.record, { message: "opened planned" });
  assert.equal([pending.status, pending.attempts.length, hook.requests.length], ["pending", 0, 0], "held by group_wait (30 s)");

  clock.advance(1);
  await hook.waitFor(1, 15_000);
  assert.equal(moments(), ["opened"]);

  assert.equal(await sweep(), [], "nothing due yet");
  clock.advance(4 * 60);
  const first = await sweep();
  assert.equal(first.length, 1);
  assert.equal(await sweep(), [], "a second sweep in the same slot enqueues nothing");
  await hook.waitFor(2);
  assert.equal(moments(), ["opened", "repeat"]);
  assert.is(new Set(hook.requests.map((r) => r.headers["idempotency-key"])).size, 2);

  const ack = await s.call("oncall_tool", "incident_ack", { incident_id: id }, { agent: "helion" });
  assert.ok(ack.ok, JSON.stringify(ack));
  await hook.waitFor(3);
  clock.advance(9 * 60);
  assert.equal(await sweep(), [], "acknowledged: no repeats");

  const closed = await s.call("oncall_tool", "incident_close", { incident_id: id, resolution: "fixed" }, { agent: "helion" });
  assert.ok(closed.ok, JSON.stringify(closed));
  await hook.waitFor(4);
  clock.advance(10);
  await s.publishAlert({ service: "search", title: "latency", kind: "latency", severity: "P1", fingerprint: "search-latency", starts_at: clock.now().toISOString() });
  await waitFor(() => s.events("incident.reopened")[0], { message: "incident reopened" });
  await hook.waitFor(5);
  assert.equal(moments(), ["opened", "repeat", "acknowledged", "resolved", "reopened"]);
  const reopened = await s.call<{ incident: { acknowledged_at?: string } }>("oncall_tool", "incident_get", { incident_id: id }, { agent: "helion" });
  assert.ok(reopened.ok);
  assert.is(reopened.result.incident.acknowledged_at, undefined, "a reopen clears the ack");
  assert.equal(await sweep(), []);
  clock.advance(4 * 60 + 1);
  assert.is((await sweep()).length, 1, "repeats resume an interval after the reopen");
  await hook.waitFor(6);
  assert.equal(hook.requests.flatMap((r) => r.problems), []);
});

test.run();
