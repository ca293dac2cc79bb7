/**
 * The alert-group consumer exists only while a route asks for alert groups: a start with such a
 * route creates it (and the notifier pulls from it), a later start whose routes no longer ask
 * removes it, so nothing fills it with every alert event and health does not watch it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { NotificationRoutesPolicy, routesUseAlertGroups } from "../../src/config/notification-routes.js";
import type { HealthReport } from "../../src/observability/health.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { startStack, type Stack } from "../harness/stack.js";

let nats: NatsServerHandle;
const stacks: Stack[] = [];

test.before(async () => {
  nats = await startNatsServer();
});

test.after(async () => {
  for (const s of stacks) await s.stop().catch(() => undefined);
  await nats?.cleanup();
});

const groupsRoute = NotificationRoutesPolicy.parse({ route: { receiver: "r", routes: [{ matchers: ['team="db"'], routes: [{ matchers: ['a="b"'], notify: "alert_groups" }] }] } });
const plainRoute = NotificationRoutesPolicy.parse({ route: { receiver: "r", routes: [{ matchers: ['team="db"'] }] } });

async function consumerThere(s: Stack): Promise<boolean> {
  const { stream } = s.running.ctx.subjects.events;
  return s.running.ctx.jsm.consumers.info(stream, s.running.ctx.subjects.notify.groupsConsumer).then(() => true, () => false);
}

const health = async (s: Stack) => (await s.client.request(s.running.ctx.subjects.tools.health, "", { timeout: 5000 })).json<HealthReport>();
const watched = (h: HealthReport) => (Array.isArray(h.queues) ? h.queues.map((q) => q.consumer) : []);

test("only a route that says notify: alert_groups (at any depth) asks for groups", () => {
  assert.is(routesUseAlertGroups(groupsRoute), true);
  assert.is(routesUseAlertGroups(plainRoute), false);
});

test("a start with such a route creates the consumer; a start without one removes it, and health no longer watches it", async () => {
  const withGroups = await startStack({ nats, roles: ["gateway", "notifier"], policies: { notificationRoutes: groupsRoute } as never });
  stacks.push(withGroups);
  assert.ok(await consumerThere(withGroups));
  assert.ok(watched(await health(withGroups)).includes("notify-groups"));
  await withGroups.stop();
  stacks.pop();

  const without = await startStack({ nats, roles: ["gateway", "notifier"], policies: { notificationRoutes: plainRoute } as never });
  stacks.push(without);
  assert.not.ok(await consumerThere(without), "removed at start");
  // Alert events no longer pile up anywhere for the notifier: health stays green with alerts in.
  for (let i = 0; i < 3; i++) await without.publishAlert({ service: "svc", title: `t${i}`, kind: "custom", fingerprint: `f${i}` });
  const h = await health(without);
  assert.ok(watched(h).length > 0);
  assert.not.ok(watched(h).includes("notify-groups"));
  assert.not.ok(h.problems.some((p) => p.startsWith("notify-groups")), h.problems.join("; "));
});

test.run();
