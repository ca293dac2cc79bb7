/**
 * What a notification attempt leaves on the record: a timeline entry on its incident (receiver,
 * attempt, outcome, status, error: never the receiver's URL or key), `notification.sent` /
 * `notification.failed` events, and the notification metrics.
 */
import type { IncidentStore } from "../incidents/store.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import type { AfterAttempt } from "../notify/delivery.js";
import type { IncidentNotification, Notification, NotificationRecord } from "../notify/types.js";
import type { OpsMetrics } from "../observability/metrics/opsbus.js";

export interface OutcomeDeps {
  incidents: Pick<IncidentStore, "appendEvent">;
  events: Pick<EventPublisher, "publish">;
  metrics?: OpsMetrics;
  now(): Date;
  logger: Logger;
}

type Outcome = AfterAttempt | { kind: "skipped"; record: NotificationRecord };

function describe(n: IncidentNotification, o: Outcome): string {
  const last = o.record.attempts.at(-1);
  const who = `${n.receiver} (${n.integration})`;
  const status = last?.status !== undefined ? ` HTTP ${last.status}` : "";
  switch (o.kind) {
    case "delivered":
      return `notified ${who} of ${n.moment.kind}: delivered${status}, attempt ${last?.attempt ?? 1}`;
    case "retry":
      return `notifying ${who} of ${n.moment.kind}: attempt ${last?.attempt} failed${status}: ${last?.error ?? ""}; retrying in ${Math.round(o.delayMs / 1000)} s`;
    case "failed":
      return `notifying ${who} of ${n.moment.kind} FAILED for good after ${o.record.attempts.length} attempt(s): ${o.error}`;
    case "skipped":
      return `not notifying ${who} of ${n.moment.kind}: ${o.record.error ?? "no longer applies"}`;
  }
}

export function makeOutcomeRecorder(d: OutcomeDeps) {
  return async function onOutcome(n: Notification, o: Outcome, latencyMs: number): Promise<void> {
    const now = d.now();
    const last = o.record.attempts.at(-1);
    d.metrics?.notifications.inc({ receiver: n.receiver, integration: n.integration, outcome: o.kind });
    if (o.kind === "delivered") d.metrics?.notificationLatency.observe({ integration: n.integration }, Math.max(0, now.getTime() - Date.parse(n.group ? n.group.at : n.moment.at)) / 1000);
    if (!n.group) await noteOnTimeline(d, n, o, latencyMs, now);
    if (o.kind !== "delivered" && o.kind !== "failed") return;
    const about = n.group ? { group_id: n.group.id, group_key: n.route.group_key, moment: "alert_group" } : { incident_id: n.moment.incident_id, moment: n.moment.kind };
    const data = {
      key: n.key, ...about, receiver: n.receiver, integration: n.integration,
      attempts: o.record.attempts.length,
      ...(last?.status !== undefined ? { status: last.status } : {}),
      ...(o.kind === "failed" ? { error: o.error } : {}),
    };
    try {
      await d.events.publish(o.kind === "delivered" ? "notification.sent" : "notification.failed", data, n.key);
    } catch (err) {
      d.logger.warn({ err, key: n.key }, "notification event publish failed (the sent-log has the outcome)");
    }
  };
}

/** The attempt as a note on its incident's timeline (a failure to write it is only logged). */
async function noteOnTimeline(d: OutcomeDeps, n: IncidentNotification, o: Outcome, latencyMs: number, now: Date): Promise<void> {
  const last = o.record.attempts.at(-1);
  const meta = {
    notification: o.kind,
    key: n.key,
    receiver: n.receiver,
    integration: n.integration,
    moment: n.moment.kind,
    attempt: last?.attempt ?? 0,
    ...(last?.status !== undefined ? { status: last.status } : {}),
    ...(last?.error ? { error: last.error } : {}),
    latency_ms: Math.round(latencyMs),
  };
  try {
    await d.incidents.appendEvent(
      n.moment.incident_id,
      { type: "note", message: describe(n, o), author: "notifier", meta, dedupe_key: `notify:${n.key}:${o.kind}:${last?.attempt ?? 0}`, ts: now.toISOString() },
      now,
    );
  } catch (err) {
    d.logger.warn({ err, key: n.key }, "could not put the notification attempt on the incident's timeline");
  }
}
