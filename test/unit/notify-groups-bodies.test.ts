/**
 * What each integration sends for an alert group's flush: the webhook body is exactly
 * Alertmanager's v4 (no `incident`); Slack, email and Teams carry Alertmanager's
 * `[FIRING:n] …` / `[RESOLVED] …` title and the alert list; PagerDuty keys its alert by the group
 * and triggers while firing, resolves when nothing fires.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildGroupEmail } from "../../src/notify/integrations/email.js";
import { groupTitle } from "../../src/notify/integrations/group-text.js";
import { buildGroupTeamsBody } from "../../src/notify/integrations/msteams.js";
import { buildGroupPagerDutyBody } from "../../src/notify/integrations/pagerduty.js";
import { buildGroupSlackBody } from "../../src/notify/integrations/slack.js";
import { buildGroupWebhookBody } from "../../src/notify/integrations/webhook.js";
import { pendingRecord } from "../../src/notify/sent-log.js";
import type { AlertSummary, GroupNotification } from "../../src/notify/types.js";
import { MemorySentLog } from "../../src/stores/notify/memory.js";

const alert = (instance: string, status: "firing" | "resolved"): AlertSummary => ({
  alert_ref: `ref-${instance}`,
  fingerprint: `fp-${instance}`,
  status,
  labels: { alertname: "DiskFull", instance, service: "db", env: "prod", severity: "P2" },
  annotations: { summary: `disk full on ${instance}` },
  starts_at: "2026-03-01T12:00:00.000Z",
  ...(status === "resolved" ? { ends_at: "2026-03-01T12:30:00.000Z" } : {}),
  generator_url: "http://prometheus.example.com/graph",
});

function fixture(status: "firing" | "resolved" = "firing"): GroupNotification {
  const alerts = status === "firing" ? [alert("db-1", "firing"), alert("db-2", "resolved")] : [alert("db-1", "resolved")];
  return {
    key: "grp-0123456789abcdef01234567.2.team-db",
    receiver: "team-db",
    integration: "webhook",
    group: { id: "grp-0123456789abcdef01234567", seq: 2, status, at: "2026-03-01T12:35:00.000Z", firing: status === "firing" ? 1 : 0, resolved: status === "firing" ? 1 : 1 },
    alerts,
    truncated_alerts: 0,
    route: { path: "0", group_key: '{}/{team="db"}:{alertname="DiskFull"}', group_labels: { alertname: "DiskFull" } },
    created_at: "2026-03-01T12:35:00.000Z",
    group_interval_ms: 0,
    external_url: "https://opsbus.example.com",
  };
}

test("webhook: exactly Alertmanager's v4 body, no incident; firing alerts end at Go's zero time", () => {
  assert.equal(buildGroupWebhookBody(fixture()), {
    receiver: "team-db",
    status: "firing",
    alerts: [
      { status: "firing", labels: alert("db-1", "firing").labels, annotations: { summary: "disk full on db-1" }, startsAt: "2026-03-01T12:00:00.000Z", endsAt: "0001-01-01T00:00:00Z", generatorURL: "http://prometheus.example.com/graph", fingerprint: "fp-db-1" },
      { status: "resolved", labels: alert("db-2", "resolved").labels, annotations: { summary: "disk full on db-2" }, startsAt: "2026-03-01T12:00:00.000Z", endsAt: "2026-03-01T12:30:00.000Z", generatorURL: "http://prometheus.example.com/graph", fingerprint: "fp-db-2" },
    ],
    groupLabels: { alertname: "DiskFull" },
    commonLabels: { alertname: "DiskFull", env: "prod", service: "db", severity: "P2" },
    commonAnnotations: {},
    externalURL: "https://opsbus.example.com",
    version: "4",
    groupKey: '{}/{team="db"}:{alertname="DiskFull"}',
    truncatedAlerts: 0,
  });
  assert.is(buildGroupWebhookBody(fixture("resolved")).status, "resolved");
});

test("titles: Alertmanager's [FIRING:n] group values (other common values), [RESOLVED]", () => {
  assert.is(groupTitle(fixture()), "[FIRING:1] DiskFull (prod db P2)");
  assert.is(groupTitle(fixture("resolved")), "[RESOLVED] DiskFull (prod db-1 db P2)");
  const slack = buildGroupSlackBody(fixture());
  assert.is(slack.text, "[FIRING:1] DiskFull (prod db P2)");
  assert.match(JSON.stringify(slack.blocks), /firing DiskFull: disk full on db-1 \(instance=db-1\).*resolved DiskFull: disk full on db-2/);
  const mail = buildGroupEmail(fixture());
  assert.is(mail.subject, "[FIRING:1] DiskFull (prod db P2)");
  assert.match(mail.text, /- firing DiskFull: disk full on db-1/);
  assert.is(mail.messageId, "<grp-0123456789abcdef01234567.2.team-db@opsbus>");
  assert.is(mail.inReplyTo, "<grp-0123456789abcdef01234567.1.team-db@opsbus>", "threads on the group's first flush");
  assert.match(JSON.stringify(buildGroupTeamsBody(fixture("resolved"))), /\[RESOLVED\] DiskFull.*"color":"Good"/);
});

test("PagerDuty: one alert per group (dedup_key = group id): trigger while firing, resolve when nothing fires", () => {
  const fire = buildGroupPagerDutyBody(fixture(), "KEY");
  assert.equal([fire.event_action, fire.dedup_key, fire.payload?.summary, fire.payload?.severity], ["trigger", "grp-0123456789abcdef01234567", "[FIRING:1] DiskFull (prod db P2)", "warning"]);
  const done = buildGroupPagerDutyBody(fixture("resolved"), "KEY");
  assert.equal([done.event_action, done.dedup_key, done.payload], ["resolve", "grp-0123456789abcdef01234567", undefined]);
});

test("the sent-log records a group's flush with its group, no incident, and lists it by kind and group", async () => {
  const log = new MemorySentLog();
  const rec = pendingRecord(fixture(), new Date("2026-03-01T12:35:01.000Z"));
  assert.equal([rec.incident_id, rec.group, rec.moment, rec.moment_id, rec.seq], [undefined, { id: "grp-0123456789abcdef01234567", key: '{}/{team="db"}:{alertname="DiskFull"}', status: "firing" }, "alert_group", "2", 2]);
  await log.put(rec, 0);
  const since = "2026-03-01T00:00:00.000Z";
  assert.equal((await log.list({ kind: "alert_group", since, limit: 10 })).map((r) => r.key), [rec.key]);
  assert.equal(await log.list({ kind: "incident", since, limit: 10 }), []);
  assert.equal((await log.list({ group_id: "grp-0123456789abcdef01234567", limit: 10 })).map((r) => r.key), [rec.key]);
  assert.equal((await log.ofGroup("grp-0123456789abcdef01234567")).length, 1);
});

test.run();
