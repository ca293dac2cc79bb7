/**
 * The outbox's rules on a fake clock with the memory sent-log and a scripted receiver: which
 * events are moments and their stable ids, what the planner enqueues (once per receiver, never for
 * a muted or off one, group_wait, ack links only where action is asked), what an attempt means
 * (Retry-After, permanent 4xx, max_attempts, give_up_after), and the notifier's send-once rules:
 * a redelivery of a delivered notification is not sent again, a later moment waits for an earlier
 * one, a claim held by another notifier is respected, and every attempt is on the record.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createLogger } from "../../src/log.js";
import { afterAttempt, DEFAULT_RETRY } from "../../src/notify/delivery.js";
import { momentOf, notificationKey, type IncidentEventIn } from "../../src/notify/moments.js";
import { planNotifications, repeatDue, type PlannedRoute } from "../../src/notify/plan.js";
import { pendingRecord } from "../../src/notify/sent-log.js";
import type { IncidentNotification, IncidentSnapshot, Notification, SendResult } from "../../src/notify/types.js";
import { MemorySentLog } from "../../src/stores/notify/memory.js";
import { Notifier, type ReceiverRuntime } from "../../src/workers/notifier.js";

const T0 = Date.parse("2026-03-02T10:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const logger = createLogger({ level: "silent" });

const event = (type: string, data: Record<string, unknown>, msg_id?: string, seq = 1): IncidentEventIn => ({
  type, ts: at(0), data, envelope_id: `env-${seq}`, stream_seq: seq, ...(msg_id ? { msg_id } : {}),
});

const incident: IncidentSnapshot = {
  id: "inc_20260302_1000_aa11bb", service: "checkout", env: "prod", severity: "P1", title: "5xx burst", status: "open",
  started_at: at(0), alert_count: 1, reopened_count: 0, labels: { kind: "error_rate" },
};
const route = (receiver: string, o: Partial<PlannedRoute> = {}): PlannedRoute => ({
  receiver, ref: { path: "", group_key: "{}:{}", group_labels: {} }, group_wait_ms: 0, group_interval_ms: 0, repeat_interval_ms: 0, ...o,
});

test("incident events become moments with stable ids; a close by hand and by the sweep are one resolved moment", () => {
  const opened = momentOf(event("incident.created", { incident_id: incident.id }, `incident.created:${incident.id}`))!;
  assert.is(opened.kind, "opened");
  assert.is(opened.moment_id, "opened");
  const esc = momentOf(event("incident.escalated", { incident_id: incident.id, from: "P2", to: "P0", reason: "x" }))!;
  assert.is(esc.moment_id, "escalated-P0");
  assert.is(esc.to_severity, "P0");
  const closedAt = "2026-03-02T11:00:00.000Z";
  const byHand = momentOf(event("incident.closed", { incident_id: incident.id }, `incident.closed:${incident.id}@${closedAt}`))!;
  const bySweep = momentOf(event("incident.resolved", { incident_id: incident.id }, `incident.resolved:resolved:${incident.id}@${closedAt}`))!;
  assert.is(byHand.kind, "resolved");
  assert.is(byHand.moment_id, bySweep.moment_id);
  const ack1 = momentOf(event("incident.acknowledged", { incident_id: incident.id }, `incident.acknowledged:ack:${incident.id}@${at(5)}`))!;
  const ack2 = momentOf(event("incident.acknowledged", { incident_id: incident.id }, `incident.acknowledged:ack:${incident.id}@${at(9)}`))!;
  assert.is.not(ack1.moment_id, ack2.moment_id, "two acks (after an unack) are two moments");
  assert.match(notificationKey(ack1, "default"), /^inc_20260302_1000_aa11bb\.acknowledged-[A-Za-z0-9]+\.default$/);
  assert.is(momentOf(event("incident.updated", { incident_id: incident.id })), undefined);
  assert.is(momentOf(event("incident.unacknowledged", { incident_id: incident.id })), undefined);
  assert.is(momentOf(event("incident.created", { incident_id: "../../etc" })), undefined, "an id unfit for a key is not planned");
});

test("the planner enqueues one notification per receiver, skips muted and off receivers with the reason, and sets group_wait and ack links", () => {
  const moment = momentOf(event("incident.created", { incident_id: incident.id }, `incident.created:${incident.id}`))!;
  const { notifications, skipped } = planNotifications({
    moment, incident, alerts: [], now: new Date(T0), external_url: "http://opsbus.test",
    routes: [route("pager", { group_wait_ms: 30_000 }), route("pager"), route("night", { muted_by: "nights" }), route("slack"), route("ghost")],
    receiver: (name) => (name === "slack" ? { off: "SLACK_URL is not set" } : name === "ghost" ? undefined : { kind: "webhook", max_alerts: 0 }),
    ackUrl: (id, key) => `http://opsbus.test/ack/${id}/${key}`,
  });
  assert.equal(notifications.map((n) => n.key), [`${incident.id}.opened.pager`]);
  assert.is(notifications[0]!.not_before, at(30));
  assert.ok(notifications[0]!.ack_url);
  assert.equal(skipped.map((s) => s.receiver), ["night", "slack", "ghost"]);
  assert.match(skipped[0]!.reason, /muted by time interval nights/);
  assert.match(skipped[1]!.reason, /SLACK_URL is not set/);

  const resolved = momentOf(event("incident.resolved", { incident_id: incident.id }, `incident.resolved:x@${at(60)}`))!;
  const r = planNotifications({ moment: resolved, incident: { ...incident, status: "closed" }, alerts: [], now: new Date(T0), external_url: "", routes: [route("pager", { group_wait_ms: 30_000 })], receiver: () => ({ kind: "webhook", max_alerts: 0 }), ackUrl: () => "x" });
  assert.is(r.notifications[0]!.not_before, undefined, "group_wait delays only the first notification");
  assert.is(r.notifications[0]!.ack_url, undefined, "nothing to acknowledge on a resolve");
});

test("a repeat is due repeat_interval after the last moment told, numbered from it; none for an acknowledged incident", () => {
  assert.is(repeatDue(at(0), "opened", 3600_000, new Date(T0 + 3599_000)), undefined);
  assert.equal(repeatDue(at(0), "opened", 3600_000, new Date(T0 + 3600_000)), { moment_id: "repeat-opened-1" });
  assert.equal(repeatDue(at(0), "opened", 3600_000, new Date(T0 + 7300_000)), { moment_id: "repeat-opened-2" });
  const moment = { kind: "repeat" as const, incident_id: incident.id, moment_id: "repeat-opened-1", at: at(3600), seq: 0 };
  const r = planNotifications({ moment, incident: { ...incident, acknowledged_at: at(10) }, alerts: [], now: new Date(T0), external_url: "", routes: [route("pager")], receiver: () => ({ kind: "webhook", max_alerts: 0 }) });
  assert.is(r.notifications.length, 0);
  assert.match(r.skipped[0]!.reason, /acknowledged/);
});

test("an attempt: delivered; 5xx retried after at least Retry-After; other 4xx failed at once; max_attempts and give_up_after end it", () => {
  const n = notification("opened");
  const rec = pendingRecord(n, new Date(T0));
  const s = { ...DEFAULT_RETRY, maxAttempts: 3, giveUpAfterMs: 3600_000 };
  const ctx = { now: new Date(T0), node_id: "n1", latency_ms: 12 };
  assert.is(afterAttempt(rec, { outcome: "delivered", status: 200 }, s, ctx).kind, "delivered");
  const retry = afterAttempt(rec, { outcome: "retry", status: 429, error: "HTTP 429", retry_after_ms: 120_000 }, s, ctx);
  assert.is(retry.kind, "retry");
  assert.ok(retry.kind === "retry" && retry.delayMs >= 120_000);
  const refused = afterAttempt(rec, { outcome: "failed", status: 400, error: "HTTP 400" }, s, ctx);
  assert.is(refused.kind, "failed");
  assert.is(refused.record.attempts.length, 1);
  const third = afterAttempt({ ...rec, attempts: [retry.record.attempts[0]!, retry.record.attempts[0]!] }, { outcome: "retry", status: 503, error: "HTTP 503" }, s, ctx);
  assert.is(third.kind, "failed");
  assert.match(third.kind === "failed" ? third.error : "", /gave up after 3 attempts/);
  const late = afterAttempt(rec, { outcome: "retry", status: 503, error: "HTTP 503" }, s, { ...ctx, now: new Date(T0 + 3600_000) });
  assert.is(late.kind, "failed");
});

function notification(kind: "opened" | "acknowledged", receiver = "hook", o: Partial<IncidentNotification> = {}): IncidentNotification {
  const moment = { kind, incident_id: incident.id, moment_id: kind === "opened" ? "opened" : "acknowledged-abc", at: at(kind === "opened" ? 0 : 5), seq: kind === "opened" ? 1 : 2 };
  return {
    key: notificationKey(moment, receiver), receiver, integration: "webhook", moment, incident, alerts: [], truncated_alerts: 0,
    route: { path: "", group_key: "{}:{}", group_labels: {} }, created_at: at(0), group_interval_ms: 0, external_url: "", ...o,
  };
}

function notifierSetup(script: SendResult[]) {
  const clock = { ms: T0 };
  const sentLog = new MemorySentLog();
  const sends: string[] = [];
  const outcomes: string[] = [];
  const rt: ReceiverRuntime = {
    integration: { kind: "webhook", send: async (n) => (sends.push(n.key), script.shift() ?? { outcome: "delivered", status: 200 }) },
    settings: { ...DEFAULT_RETRY, maxAttempts: 5, giveUpAfterMs: 3600_000, timeoutMs: 1000 },
  };
  const notifier = new Notifier({
    sentLog, incidents: { get: async () => null, appendEvent: async () => ({ event: {} as never, replayed: false }) },
    receiver: (name) => (name === "hook" ? rt : undefined),
    onOutcome: async (n, o) => void outcomes.push(`${n.key}:${o.kind}`),
    nodeId: "n1", now: () => new Date(clock.ms), logger,
  });
  const settled: string[] = [];
  const h = { logger, ack: () => void settled.push("ack"), nak: (d?: number) => void settled.push(`nak:${d ?? 0}`), working: () => undefined };
  return { clock, sentLog, sends, outcomes, notifier, settled, h };
}

test("the notifier sends once: a redelivery of a delivered notification is acked without a send", async () => {
  const s = notifierSetup([]);
  const n = notification("opened");
  await s.notifier.handle(n, s.h);
  await s.notifier.handle(n, s.h);
  assert.equal(s.sends, [n.key]);
  assert.equal(s.settled, ["ack", "ack"]);
  const rec = (await s.sentLog.get(n.key))!.record;
  assert.is(rec.status, "delivered");
  assert.is(rec.attempts.length, 1);
  assert.is(rec.sending_by, undefined, "the claim is released with the outcome");
});

test("a notification carrying its planner's sent-log revision is claimed without a read; a stale revision is read, and a delivered one not sent again", async () => {
  const s = notifierSetup([]);
  const n = notification("opened");
  const revision = await s.sentLog.put(pendingRecord(n, new Date(n.created_at)), 0);
  let reads = 0;
  const get = s.sentLog.get.bind(s.sentLog);
  s.sentLog.get = (key) => (reads++, get(key));
  await s.notifier.handle({ ...n, log_revision: revision }, s.h);
  assert.equal([s.sends, reads, s.settled], [[n.key], 0, ["ack"]], "sent on the planner's revision, nothing read");
  await s.notifier.handle({ ...n, log_revision: revision }, s.h);
  assert.equal([s.sends, reads, s.settled], [[n.key], 1, ["ack", "ack"]], "the redelivery's claim finds it changed, reads it: delivered, not sent again");
  const rec = (await s.sentLog.get(n.key))!.record;
  assert.equal([rec.status, rec.attempts.length], ["delivered", 1]);
});

test("a later moment waits while an earlier one of the same incident and receiver is unsent; then goes", async () => {
  const s = notifierSetup([{ outcome: "retry", status: 503, error: "HTTP 503" }]);
  const opened = notification("opened");
  const acked = notification("acknowledged");
  await s.notifier.handle(opened, s.h);
  assert.match(s.settled[0]!, /^nak:\d+/, "503: retried later");
  await s.notifier.handle(acked, s.h);
  assert.is(s.settled[1], "nak:1000", "the ack notification waits for the opened one");
  assert.equal(s.sends, [opened.key]);
  await s.notifier.handle(opened, s.h);
  await s.notifier.handle(acked, s.h);
  assert.equal(s.sends, [opened.key, opened.key, acked.key]);
  assert.equal(s.outcomes, [`${opened.key}:retry`, `${opened.key}:delivered`, `${acked.key}:delivered`]);
});

test("group_wait holds a notification until its time; a claim held by another notifier is respected until it runs out", async () => {
  const s = notifierSetup([]);
  const n = notification("opened", "hook", { not_before: at(30) });
  await s.notifier.handle(n, s.h);
  assert.is(s.settled[0], "nak:5000", "rechecked within MAX_RECHECK_MS");
  s.clock.ms = T0 + 30_000;
  const held = (await s.sentLog.get(n.key))!;
  await s.sentLog.put({ ...held.record, sending_by: "other", sending_until: at(40) }, held.revision);
  await s.notifier.handle(n, s.h);
  assert.is(s.settled[1], "nak:5000");
  assert.equal(s.sends, []);
  s.clock.ms = T0 + 41_000;
  await s.notifier.handle(n, s.h);
  assert.equal(s.sends, [n.key], "the claim ran out: this notifier sends");
});

test("a later moment whose opened is not planned yet (held by a killed planner) waits for it, for the incident's first minute", async () => {
  const s = notifierSetup([]);
  const acked = notification("acknowledged", "hook", { incident: { ...incident, created_at: at(0) } });
  s.clock.ms = T0 + 10_000;
  await s.notifier.handle(acked, s.h);
  assert.equal([s.settled[0], s.sends.length], ["nak:1000", 0]);
  s.clock.ms = T0 + 61_000;
  await s.notifier.handle(acked, s.h);
  assert.equal(s.sends, [acked.key], "after the grace, the opened is taken to be skipped for this receiver");
});

test("a receiver removed from config fails the notification for good, with the reason", async () => {
  const s = notifierSetup([]);
  const n = notification("opened", "gone");
  await s.notifier.handle(n, s.h);
  const rec = (await s.sentLog.get(n.key))!.record;
  assert.is(rec.status, "failed");
  assert.match(rec.error!, /not configured or is off/);
  assert.equal(s.outcomes, [`${n.key}:failed`]);
  assert.equal(s.settled, ["ack"]);
});

test.run();
