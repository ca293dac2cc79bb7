/**
 * The event map (src/subjects/event-map.ts) is the one list of events and payloads. The
 * `@ts-expect-error` lines below are the type-level half of this test: `npm run typecheck`
 * fails ("Unused '@ts-expect-error' directive") as soon as `publish` accepts an unknown event
 * type or a wrong payload again.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { EventPublisher } from "../../src/nats/events.js";
import { EVENT_DATA, EVENT_TYPES, JOB_STATUSES, jobEventType, parseEventData, subjects, type EventData } from "../../src/subjects/index.js";

function publisher() {
  const sent: Array<{ subject: string; msgID?: string; body: { type: string; data: unknown } }> = [];
  const js = {
    async publish(subject: string, data: Uint8Array, opts?: { msgID?: string }) {
      sent.push({ subject, ...(opts?.msgID ? { msgID: opts.msgID } : {}), body: JSON.parse(new TextDecoder().decode(data)) });
      return { seq: sent.length, duplicate: false, stream: "OPS_EVENTS" };
    },
  };
  return { sent, events: new EventPublisher(js as unknown as JetStreamClient, subjects(), "n1", () => new Date(0)) };
}

const job: EventData<"job.failed"> = { run_id: "job_1", task_id: "audit_cleanup", trigger: "manual", slot: "2026-03-10T12:00:00Z", status: "failed", dry_run: false, error_code: "tool_error" };

/** Never called: only typechecked. Each line must stay a type error. */
export function wrongEventsDoNotTypecheck(events: EventPublisher): void {
  // @ts-expect-error an event type opsbus does not publish
  void events.publish("alert.resolved", { alert_ref: "alr_1" });
  // @ts-expect-error an event type built from an unchecked string
  void events.publish(`job.${"done" as string}`, job);
  // @ts-expect-error a known type with a wrong payload: attempts is a number
  void events.publish("alert.dead", { alert_ref: "alr_1", attempts: "3" });
  // @ts-expect-error a known type missing a required field (task_id, trigger, …)
  void events.publish("job.queued", { run_id: "job_1", status: "queued" });
  // @ts-expect-error a field a fixed-shape event does not have
  void events.publish("graph.failed", { run_id: "run_1", incident_id: "inc_1", graph: "incident_triage", error: "boom", retry: true });
  // @ts-expect-error another event's payload
  void events.publish("incident.escalated", job);
  // @ts-expect-error a job event whose status is not the one its type names
  void events.publish("job.succeeded", job);
  // @ts-expect-error prepare (the batched publish) is typed the same way
  events.prepare("alert.rejected", { subject: "ops.alerts.in.x", reasons: "bad" });
  // @ts-expect-error an event subject only for a known type
  subjects().events.of("alert.silenced");
  // @ts-expect-error an event domain opsbus does not have
  subjects().events.domain("widget");
}

test("a known event with its payload publishes on its subject, keyed by type and dedupe id, and parses with its schema", async () => {
  const { sent, events } = publisher();
  await events.publish(jobEventType("failed"), job, "job_1:3");
  assert.equal(sent.map((s) => [s.subject, s.msgID, s.body.type]), [["ops.events.job.failed", "job.failed:job_1:3", "job.failed"]]);
  const parsed = parseEventData("job.failed", sent[0]!.body.data);
  assert.ok(parsed.success);
  assert.equal(parsed.data, job);
});

test("every job status has its job.<status> event, whose schema takes only that status", () => {
  for (const status of JOB_STATUSES) {
    const type = jobEventType(status);
    assert.ok(EVENT_TYPES.includes(type), `${type} is in the event map`);
    assert.ok(parseEventData(type, { ...job, status }).success, `${type} takes status ${status}`);
    const other = JOB_STATUSES.find((s) => s !== status)!;
    assert.not.ok(parseEventData(type, { ...job, status: other }).success, `${type} refuses status ${other}`);
  }
});

test("parseEventData: a wrong payload names the field; an unknown type is null; loose events keep their extra fields", () => {
  const bad = parseEventData("alert.dead", { alert_ref: "alr_1", attempts: "3" });
  assert.not.ok(bad.success);
  assert.equal(bad.error?.issues.map((i) => i.path.join(".")), ["attempts"]);
  assert.is(parseEventData("alert.silenced", { alert_ref: "alr_1" }), null);
  const created = { incident_id: "inc_1", service: "checkout", env: "prod", severity: "P1", title: "5xx", by: "sofiia", labels_seen: 2 };
  assert.equal(parseEventData("incident.created", created)?.data, created);
});

test("the map is the list: every type is <domain>.<type> with a schema, none twice", () => {
  assert.is(new Set(EVENT_TYPES).size, EVENT_TYPES.length);
  for (const type of EVENT_TYPES) {
    assert.match(type, /^[a-z]+\.[a-z_]+$/);
    assert.ok(EVENT_DATA[type], type);
  }
});

test.run();
