/**
 * Notifications end to end on a real NATS server: an alert opens an incident, a second one escalates
 * it, then it is acknowledged and closed; every route's receivers (a webhook, PagerDuty, Slack,
 * Teams, email, each a loopback peer checking its body against the peer's format) get exactly
 * opened → escalated → acknowledged → resolved, in order, keyed by `<incident>.<moment>.<receiver>`; `continue` fans out; a muted route
 * is told nothing and the timeline says why; a 503-then-200 receiver gets it once after retries; a
 * 400 receiver fails it for good with notification.failed and a timeline note, without retrying;
 * no receiver URL token, routing key or SMTP password shows in events, timeline or sent-log.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { NotificationRoutesPolicy } from "../../src/config/notification-routes.js";
import { ReceiversPolicy } from "../../src/config/receivers.js";
import { startHttpReceiver, startSmtpSink, type HttpReceiver, type SmtpSink } from "../harness/receivers.js";
import { VALIDATORS } from "../harness/receiver-schemas.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let hook: HttpReceiver, pd: HttpReceiver, slack: HttpReceiver, teams: HttpReceiver, flaky: HttpReceiver, refusing: HttpReceiver;
let mail: SmtpSink;
const PD_KEY = "R0UTINGKEYe2e0000000000000000000";
const SMTP_PASS = "smtp-pass-e2e-secret";

test.before(async () => {
  hook = await startHttpReceiver({ validate: VALIDATORS.webhook });
  pd = await startHttpReceiver({ validate: VALIDATORS.pagerduty, mode: { kind: "ok", status: 202 } });
  slack = await startHttpReceiver({ validate: VALIDATORS.slack });
  teams = await startHttpReceiver({ validate: VALIDATORS.msteams });
  flaky = await startHttpReceiver({ mode: { kind: "fn", fn: (_r, i) => (i < 2 ? { status: 503, headers: { "retry-after": "1" } } : { status: 200 }) } });
  refusing = await startHttpReceiver({ mode: { kind: "status", status: 400, body: "bad payload" } });
  mail = await startSmtpSink({ auth: { user: "opsbus", pass: SMTP_PASS } });
  Object.assign(process.env, {
    E2E_HOOK: hook.url, E2E_PD_URL: pd.url, E2E_PD_KEY: PD_KEY, E2E_SLACK: slack.url, E2E_TEAMS: teams.url,
    E2E_FLAKY: flaky.url, E2E_REFUSING: refusing.url, E2E_SMTP_PASS: SMTP_PASS,
  });
  const receivers = ReceiversPolicy.parse({
    receivers: [
      { name: "default", webhook: { url_env: "E2E_HOOK" } },
      { name: "pager", pagerduty: { url: pd.url, routing_key_env: "E2E_PD_KEY" } },
      { name: "chat", slack: { url_env: "E2E_SLACK" } },
      { name: "teams", msteams: { url_env: "E2E_TEAMS" } },
      { name: "mail", email: { to: ["oncall@example.test"], from: "opsbus <opsbus@example.test>", smarthost: `127.0.0.1:${mail.port}`, auth_username: "opsbus", auth_password_env: "E2E_SMTP_PASS" } },
      { name: "flaky", webhook: { url_env: "E2E_FLAKY" } },
      { name: "refusing", webhook: { url_env: "E2E_REFUSING" }, max_attempts: 5 },
      { name: "night", webhook: { url_env: "E2E_HOOK" } },
    ],
  });
  const notificationRoutes = NotificationRoutesPolicy.parse({
    route: {
      receiver: "default", group_by: ["service"], group_wait: "0s", group_interval: "1ms", repeat_interval: "4h",
      routes: [
        { matchers: ['service="checkout"'], receiver: "pager", continue: true },
        { matchers: ['service="checkout"'], receiver: "chat", continue: true },
        { matchers: ['service="checkout"'], receiver: "teams", continue: true },
        { matchers: ['service="checkout"'], receiver: "mail", continue: true },
        { matchers: ['service="checkout"'], receiver: "night", mute_time_intervals: ["always"], continue: true },
        { matchers: ['service="checkout"'], receiver: "default" },
        { matchers: ['service="flaky"'], receiver: "flaky" },
        { matchers: ['service="refused"'], receiver: "refusing" },
      ],
    },
    time_intervals: [{ name: "always", time_intervals: [{ times: [{ start_time: "00:00", end_time: "24:00" }] }] }],
  });
  s = await startStack({ roles: ["gateway", "alerts-in", "incident-bridge", "notifier"], env: { HTTP_PORT: String(await freePort()) }, policies: { receivers, notificationRoutes, incidentEscalation: { occurrences: { P1: 2 } } } as never });
});

test.after(async () => {
  await s?.stop();
  await Promise.all([hook, pd, slack, teams, flaky, refusing].map((r) => r?.close()));
  await mail?.close();
});

const openIncident = async (service: string, title: string): Promise<string> => {
  await s.publishAlert({ service, title, kind: "error_rate", severity: "P1", env: "prod", fingerprint: `${service}-${title}` });
  const created = await waitFor(() => s.events("incident.created").find((e) => e.data.service === service && e.data.title === title), { message: `incident for ${service}` });
  return created.data.incident_id as string;
};
const keyOf = (r: { headers: Record<string, unknown> }) => String(r.headers["idempotency-key"]);
const momentOfKey = (k: string) => k.split(".")[1]!.replace(/-.*/, "");

test("opened → escalated → acknowledged → resolved reach every routed receiver once each, in order, with stable keys", async () => {
  const id = await openIncident("checkout", "5xx burst");
  await waitFor(() => hook.requests.length >= 1 && pd.requests.length >= 1 && slack.requests.length >= 1 && teams.requests.length >= 1 && mail.messages.length >= 1, { message: "opened everywhere" });
  // A second alert of the same signature: two occurrences escalate a P1 (incident_escalation.occurrences).
  await s.publishAlert({ service: "checkout", title: "5xx burst", kind: "error_rate", severity: "P1", env: "prod", fingerprint: "checkout-5xx-second" });
  await waitFor(() => s.events("incident.escalated").find((e) => e.data.incident_id === id), { message: "escalated" });
  await waitFor(() => hook.requests.length >= 2 && pd.requests.length >= 2 && slack.requests.length >= 2 && teams.requests.length >= 2 && mail.messages.length >= 2, { message: "escalated everywhere" });
  const ack = await s.call("oncall_tool", "incident_ack", { incident_id: id }, { agent: "helion" });
  assert.ok(ack.ok, JSON.stringify(ack));
  await waitFor(() => hook.requests.length >= 3 && pd.requests.length >= 3 && mail.messages.length >= 3, { message: "acknowledged everywhere" });
  const closed = await s.call("oncall_tool", "incident_close", { incident_id: id, resolution: "rolled back" }, { agent: "helion" });
  assert.ok(closed.ok, JSON.stringify(closed));
  await waitFor(() => hook.requests.length >= 4 && pd.requests.length >= 4 && slack.requests.length >= 4 && teams.requests.length >= 4 && mail.messages.length >= 4, { message: "resolved everywhere", timeoutMs: 15_000 });

  for (const r of [hook, pd, slack, teams]) {
    const mine = r.requests.filter((q) => keyOf(q).startsWith(id));
    assert.equal(mine.map((q) => momentOfKey(keyOf(q))), ["opened", "escalated", "acknowledged", "resolved"], `order at ${r.url}`);
    assert.equal(mine.flatMap((q) => q.problems), [], "every body is the peer's format");
    assert.is(new Set(mine.map(keyOf)).size, 4, "one key per moment");
  }
  const bodies = hook.requests.filter((q) => keyOf(q).startsWith(id)).map((q) => q.json as { status: string; receiver: string; incident: { key: string; moment: string; ack_url?: string } });
  assert.equal(bodies.map((b) => b.status), ["firing", "firing", "firing", "resolved"]);
  assert.ok(bodies[0]!.incident.ack_url, "the opened notification carries an ack link");
  assert.is(bodies[0]!.incident.key, `${id}.opened.default`);
  const pdActions = pd.requests.filter((q) => keyOf(q).startsWith(id)).map((q) => q.json as { event_action: string; dedup_key: string });
  assert.equal(pdActions.map((b) => [b.event_action, b.dedup_key]), [["trigger", id], ["trigger", id], ["acknowledge", id], ["resolve", id]]);
  assert.equal(mail.messages.slice(0, 4).map((m) => /opened|escalated|acknowledged|resolved/.exec(m.headers.subject ?? "")?.[0]), ["opened", "escalated", "acknowledged", "resolved"]);
  assert.ok(mail.messages.every((m) => /^<.+@opsbus>$/.test(m.headers["message-id"] ?? "")), "Message-ID from the key");

  const listed = await s.call<{ notifications: Array<{ key: string; status: string; attempts: unknown[] }> }>("notification_tool", "list", { incident_id: id }, { agent: "helion" });
  assert.ok(listed.ok, JSON.stringify(listed));
  const byStatus = listed.result.notifications.map((n) => n.status);
  assert.is(byStatus.length, 20, "4 moments × 5 receivers told");
  assert.ok(byStatus.every((st) => st === "delivered"));
  assert.ok(!listed.result.notifications.some((n) => n.key.endsWith(".night")), "the muted route's receiver was never planned");
  // An id no notification key can hold is a bad request, not a store error (a fuzzed id once gave `internal`).
  for (const params of [{ incident_id: "inc\uffff\u202e" }, { group_id: "grp.a" }]) {
    const refused = await s.call("notification_tool", "list", params, { agent: "helion" });
    assert.equal(refused.ok ? "ok" : refused.error.code, "invalid_request", JSON.stringify(refused));
  }
  const timeline = await s.call<{ events: Array<{ type: string; message: string; meta: Record<string, unknown> }> }>("oncall_tool", "incident_get", { incident_id: id }, { agent: "helion" });
  const text = JSON.stringify(timeline);
  assert.match(text, /not notified: night \(muted by time interval always\)/);
  assert.match(text, /notified default \(webhook\) of opened: delivered/);
  assert.is(s.events("notification.sent").filter((e) => e.data.incident_id === id).length, 20);
  for (const secret of [hook.token, pd.token, PD_KEY, SMTP_PASS]) {
    assert.not.ok(text.includes(secret), "no secret on the timeline");
    assert.not.ok(JSON.stringify(s.events()).includes(secret), "no secret in events");
    assert.not.ok(JSON.stringify(listed).includes(secret), "no secret in the sent-log");
    assert.not.ok(s.logs.text().includes(secret), "no secret in the logs");
  }
  const metrics = await s.running.ctx.metrics!.render();
  assert.match(metrics, /^opsbus_notifications_total\{receiver="default",integration="webhook",outcome="delivered"\} [1-9]/m);
  assert.match(metrics, /^opsbus_notification_latency_seconds_count\{integration="pagerduty"\} [1-9]/m);
  assert.match(metrics, /^opsbus_notification_queue_depth \d+/m);
});

test("a receiver answering 503 (Retry-After) twice, then 200, gets the notification once more than it failed; a 400 fails it for good", async () => {
  const flakyId = await openIncident("flaky", "blip");
  const refusedId = await openIncident("refused", "nope");
  await waitFor(() => s.events("notification.sent").find((e) => e.data.incident_id === flakyId), { message: "flaky delivered after retries", timeoutMs: 20_000 });
  assert.equal(flaky.requests.map((r) => r.status), [503, 503, 200]);
  assert.ok(flaky.requests[1]!.at - flaky.requests[0]!.at >= 900, "Retry-After: 1 honoured");
  const failed = await waitFor(() => s.events("notification.failed").find((e) => e.data.incident_id === refusedId), { message: "refused notification failed" });
  assert.is(failed.data.status, 400);
  assert.is(refusing.requests.length, 1, "no retry after a permanent 4xx");
  const got = await s.call<{ notification: { status: string; attempts: Array<{ status: number }>; error: string } }>("notification_tool", "get", { key: `${refusedId}.opened.refusing` }, { agent: "helion" });
  assert.ok(got.ok, JSON.stringify(got));
  assert.is(got.result.notification.status, "failed");
  assert.not.ok(got.result.notification.error.includes(refusing.token));
  const timeline = JSON.stringify(await s.call("oncall_tool", "incident_get", { incident_id: refusedId }, { agent: "helion" }));
  assert.match(timeline, /FAILED for good/);

  // An operator replays it once the receiver is fixed: delivered, and the first attempt stays on record.
  refusing.setMode({ kind: "ok" });
  const retried = await s.call("notification_tool", "retry", { key: `${refusedId}.opened.refusing` }, { agent: "helion" });
  assert.ok(retried.ok, JSON.stringify(retried));
  await waitFor(() => s.events("notification.sent").find((e) => e.data.incident_id === refusedId), { message: "replayed and delivered" });
  const after = await s.call<{ notification: { status: string; attempts: unknown[]; retried_by: string } }>("notification_tool", "get", { key: `${refusedId}.opened.refusing` }, { agent: "helion" });
  assert.ok(after.ok);
  assert.equal([after.result.notification.status, after.result.notification.attempts.length, after.result.notification.retried_by], ["delivered", 2, "helion"]);
  const denied = await s.call("notification_tool", "retry", { key: `${refusedId}.opened.refusing` }, { agent: "monitor" });
  assert.not.ok(denied.ok, "monitor may not replay notifications");
});

test.run();
