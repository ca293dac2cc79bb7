/**
 * Each integration's body, checked against the peer's format (test/harness/receiver-schemas.ts,
 * written from the peers' documentation) for every moment, and the mapping rules of each.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEmail, escapeHtml, messageIdOf } from "../../src/notify/integrations/email.js";
import { buildTeamsBody } from "../../src/notify/integrations/msteams.js";
import { buildPagerDutyBody, PD_SUMMARY_MAX } from "../../src/notify/integrations/pagerduty.js";
import { buildSlackBody, SLACK_LIMITS } from "../../src/notify/integrations/slack.js";
import { buildWebhookBody, GO_ZERO_TIME } from "../../src/notify/integrations/webhook.js";
import { MOMENT_KINDS } from "../../src/notify/types.js";
import { VALIDATORS } from "../harness/receiver-schemas.js";
import { notificationFixture as fixture } from "../harness/receivers.js";

/** JSON as it goes on the wire. */
const wire = (body: unknown): unknown => JSON.parse(JSON.stringify(body));

test("every moment's body is one each peer takes", () => {
  for (const kind of MOMENT_KINDS) {
    const n = fixture({ kind, ...(kind === "escalated" ? { moment: { from_severity: "P1", to_severity: "P0" } } : {}) });
    assert.equal(VALIDATORS.webhook(wire(buildWebhookBody(n))), [], `webhook ${kind}`);
    assert.equal(VALIDATORS.slack(wire(buildSlackBody(n))), [], `slack ${kind}`);
    assert.equal(VALIDATORS.pagerduty(wire(buildPagerDutyBody(n, "R0UTINGKEY0000000000000000000000"))), [], `pagerduty ${kind}`);
    assert.equal(VALIDATORS.msteams(wire(buildTeamsBody(n))), [], `msteams ${kind}`);
  }
  // And without alerts, ack link or external URL.
  const bare = fixture({ alerts: [], ack_url: undefined, external_url: "" });
  for (const [kind, body] of [["webhook", buildWebhookBody(bare)], ["slack", buildSlackBody(bare)], ["msteams", buildTeamsBody(bare)]] as const) {
    assert.equal(VALIDATORS[kind](wire(body)), [], kind);
  }
});

test("the peers' schemas refuse what the peers refuse", () => {
  const hook = wire(buildWebhookBody(fixture())) as Record<string, unknown>;
  assert.ok(VALIDATORS.webhook({ ...hook, version: "3" }).length > 0);
  assert.ok(VALIDATORS.webhook({ ...hook, alerts: [{ ...(hook.alerts as object[])[0], endsAt: "" }] }).length > 0);
  const slack = wire(buildSlackBody(fixture())) as { text: string; blocks: unknown[] };
  assert.ok(VALIDATORS.slack({ ...slack, blocks: [{ type: "section", text: { type: "mrkdwn", text: "x".repeat(3001) } }] }).length > 0);
  assert.ok(VALIDATORS.slack({ blocks: [] }).length > 0);
  assert.equal(VALIDATORS.pagerduty({ routing_key: "K", event_action: "resolve" }), ["'dedup_key' is missing or blank (required for resolve)"]);
  const teams = wire(buildTeamsBody(fixture())) as { attachments: Array<Record<string, unknown>> };
  assert.ok(VALIDATORS.msteams({ ...teams, attachments: [{ ...teams.attachments[0], contentType: "application/json" }] }).length > 0);
});

test("webhook: Alertmanager's v4 fields, in its order, plus the incident", () => {
  const body = buildWebhookBody(fixture());
  assert.equal(Object.keys(body), ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "version", "groupKey", "truncatedAlerts", "incident"]);
  assert.is(body.version, "4");
  assert.is(body.status, "firing");
  assert.is(body.receiver, "default");
  assert.is(body.groupKey, '{}/{service="checkout"}:{env="prod", service="checkout"}');
  assert.equal(body.groupLabels, { env: "prod", service: "checkout" });
  // Labels both alerts share, and the incident's service/env/severity.
  assert.equal(body.commonLabels, { alertname: "HighErrorRate", env: "prod", service: "checkout", severity: "P1" });
  assert.equal(body.commonAnnotations, { runbook: "https://runbooks.example.com/checkout", summary: "5xx above 5% for 5m" });
  assert.is(body.externalURL, "https://opsbus.example.com");
  assert.equal(body.alerts[0], {
    status: "firing",
    labels: { alertname: "HighErrorRate", service: "checkout", env: "prod", severity: "P1", instance: "web-1" },
    annotations: { summary: "5xx above 5% for 5m", runbook: "https://runbooks.example.com/checkout" },
    startsAt: "2026-03-01T12:00:00.000Z",
    endsAt: GO_ZERO_TIME,
    generatorURL: "http://prometheus.example.com/graph?g0.expr=errors",
    fingerprint: "a1b2c3d4e5f60718",
  });
  assert.is(body.alerts[1]!.generatorURL, "");
  assert.equal(body.incident, {
    id: "inc_20260301_1200_abc123",
    key: "inc_20260301_1200_abc123.opened.default",
    moment: "opened",
    moment_id: "opened",
    moment_at: "2026-03-01T12:00:05.000Z",
    service: "checkout",
    env: "prod",
    severity: "P1",
    title: "checkout error rate above 5%",
    status: "open",
    started_at: "2026-03-01T12:00:00.000Z",
    alert_count: 2,
    ack_url: "https://opsbus.example.com/ack/inc_20260301_1200_abc123?sig=deadbeef",
  });
});

test("webhook: resolved for the resolved moment only; truncated alerts counted; no alerts → the incident's labels", () => {
  const resolved = buildWebhookBody(fixture({ kind: "resolved" }));
  assert.is(resolved.status, "resolved");
  assert.is(resolved.alerts[0]!.endsAt, "2026-03-01T12:55:00.000Z");
  assert.is(buildWebhookBody(fixture({ kind: "acknowledged" })).status, "firing");
  assert.is(buildWebhookBody(fixture({ kind: "acknowledged" })).incident.acknowledged_at, "2026-03-01T12:10:00.000Z");
  assert.is(buildWebhookBody(fixture({ truncated_alerts: 7 })).truncatedAlerts, 7);
  const bare = buildWebhookBody(fixture({ alerts: [] }));
  assert.equal(bare.commonLabels, { alertname: "HighErrorRate", env: "prod", kind: "error_rate", region: "eu-west-1", service: "checkout", severity: "P1", source: "prometheus" });
  assert.equal(bare.commonAnnotations, {});
  // The incident's fields win over an alert label of the same name.
  const n = fixture();
  n.alerts = n.alerts.map((a) => ({ ...a, labels: { ...a.labels, severity: "critical" } }));
  assert.is(buildWebhookBody(n).commonLabels.severity, "P1");
});

test("slack: text fallback, header, fields, ack button; every section ≤ 3000 characters", () => {
  const body = buildSlackBody(fixture());
  assert.is(body.text, "[P1] opened: checkout error rate above 5% (checkout/prod): opened");
  assert.equal(body.blocks[0], { type: "header", text: { type: "plain_text", text: "[P1] opened: checkout error rate above 5% (checkout/prod)", emoji: true } });
  const fields = body.blocks.find((b) => b.type === "section" && "fields" in b && b.fields) as { fields: Array<{ text: string }> };
  assert.equal(fields.fields.slice(0, 3).map((f) => f.text), ["*Service*\ncheckout", "*Env*\nprod", "*Severity*\nP1"]);
  const actions = body.blocks.find((b) => b.type === "actions") as { elements: Array<{ url: string; text: { text: string } }> };
  assert.equal(actions.elements.map((e) => [e.text.text, e.url]), [
    ["Acknowledge", "https://opsbus.example.com/ack/inc_20260301_1200_abc123?sig=deadbeef"],
    ["Open opsbus", "https://opsbus.example.com"],
  ]);
  // Once acknowledged or resolved, no acknowledge button.
  for (const kind of ["acknowledged", "resolved"] as const) {
    const a = buildSlackBody(fixture({ kind })).blocks.find((b) => b.type === "actions") as { elements: Array<{ text: { text: string } }> };
    assert.equal(a.elements.map((e) => e.text.text), ["Open opsbus"]);
  }

  const huge = fixture();
  huge.incident = { ...huge.incident, title: `<b>&${"x".repeat(5000)}` };
  huge.alerts = huge.alerts.map((a) => ({ ...a, annotations: { summary: "y".repeat(4000) } }));
  const big = buildSlackBody(huge);
  assert.equal(VALIDATORS.slack(wire(big)), []);
  for (const b of big.blocks) {
    if (b.type === "section" && b.text) assert.ok(b.text.text.length <= SLACK_LIMITS.sectionText, `section of ${b.text.text.length}`);
    if (b.type === "header") assert.ok(b.text.text.length <= SLACK_LIMITS.headerText);
  }
  const section = big.blocks[1] as { text: { text: string } };
  assert.is(section.text.text.length, 3000);
  assert.ok(section.text.text.endsWith("…"));
  // mrkdwn control characters are escaped, so a title cannot make a link or a mention.
  assert.ok(section.text.text.includes("&lt;b&gt;&amp;x"));
  assert.ok(big.text.length <= 3000);
});

test("pagerduty: dedup_key is the incident id; trigger, acknowledge, resolve follow the incident", () => {
  const action = (kind: (typeof MOMENT_KINDS)[number]) => buildPagerDutyBody(fixture({ kind }), "K").event_action;
  assert.equal(MOMENT_KINDS.map((k) => [k, action(k)]), [
    ["opened", "trigger"],
    ["escalated", "trigger"],
    ["reopened", "trigger"],
    ["acknowledged", "acknowledge"],
    ["resolved", "resolve"],
    ["repeat", "trigger"],
  ]);
  const body = buildPagerDutyBody(fixture(), "R0UTINGKEY");
  assert.is(body.routing_key, "R0UTINGKEY");
  assert.is(body.dedup_key, "inc_20260301_1200_abc123");
  assert.is(body.client, "opsbus");
  assert.equal(
    { ...body.payload, custom_details: undefined },
    {
      summary: "[P1] opened: checkout error rate above 5% (checkout/prod)",
      source: "checkout",
      severity: "error",
      timestamp: "2026-03-01T12:00:05.000Z",
      component: "checkout",
      group: "prod",
      class: "error_rate",
      custom_details: undefined,
    },
  );
  assert.is(body.payload!.custom_details.notification_key, "inc_20260301_1200_abc123.opened.default");
  assert.equal(body.links, [
    { href: "https://opsbus.example.com/ack/inc_20260301_1200_abc123?sig=deadbeef", text: "Acknowledge in opsbus" },
    { href: "https://opsbus.example.com", text: "opsbus" },
  ]);
  const sev = (s: "P0" | "P1" | "P2" | "P3") => {
    const n = fixture();
    n.incident = { ...n.incident, severity: s };
    return buildPagerDutyBody(n, "K").payload!.severity;
  };
  assert.equal([sev("P0"), sev("P1"), sev("P2"), sev("P3")], ["critical", "error", "warning", "info"]);
  // An escalation reports the new severity.
  assert.is(buildPagerDutyBody(fixture({ kind: "escalated", moment: { from_severity: "P1", to_severity: "P0" } }), "K").payload!.severity, "critical");
  // Acknowledge and resolve carry no payload, and no ack link.
  const resolve = buildPagerDutyBody(fixture({ kind: "resolved" }), "K");
  assert.is(resolve.payload, undefined);
  assert.equal(resolve.links, [{ href: "https://opsbus.example.com", text: "opsbus" }]);
  const long = fixture();
  long.incident = { ...long.incident, title: "z".repeat(3000) };
  const summary = buildPagerDutyBody(long, "K").payload!.summary;
  assert.is(summary.length, PD_SUMMARY_MAX);
  assert.ok(summary.endsWith("…"));
});

test("msteams: an adaptive card with the facts and the ack and console links", () => {
  const body = buildTeamsBody(fixture());
  const card = body.attachments[0]!.content;
  assert.is(body.attachments[0]!.contentUrl, null);
  assert.is(card.version, "1.4");
  assert.equal(card.body[0], { type: "TextBlock", text: "[P1] opened: checkout error rate above 5% (checkout/prod)", wrap: true, size: "Medium", weight: "Bolder", color: "Attention" });
  const facts = card.body.find((b) => b.type === "FactSet") as { facts: Array<{ title: string; value: string }> };
  assert.equal(facts.facts.slice(0, 3), [
    { title: "Service", value: "checkout" },
    { title: "Env", value: "prod" },
    { title: "Severity", value: "P1" },
  ]);
  assert.equal(card.actions, [
    { type: "Action.OpenUrl", title: "Acknowledge", url: "https://opsbus.example.com/ack/inc_20260301_1200_abc123?sig=deadbeef" },
    { type: "Action.OpenUrl", title: "Open opsbus", url: "https://opsbus.example.com" },
  ]);
  // A title cannot become a markdown link.
  const n = fixture();
  n.incident = { ...n.incident, title: "click [here](https://evil.example.com)" };
  assert.not.ok(JSON.stringify(buildTeamsBody(n)).includes("](https://evil"));
  assert.is((buildTeamsBody(fixture({ kind: "resolved" })).attachments[0]!.content.body[0] as { color: string }).color, "Good");
});

test("email: subject, Message-ID from the key, threading to the opened moment, every value HTML-escaped", () => {
  const opened = buildEmail(fixture());
  assert.is(opened.subject, "[P1] opened: checkout error rate above 5% (checkout/prod)");
  assert.is(opened.messageId, "<inc_20260301_1200_abc123.opened.default@opsbus>");
  assert.is(opened.inReplyTo, undefined);
  assert.equal(opened.headers, { "X-Opsbus-Idempotency-Key": "inc_20260301_1200_abc123.opened.default", "X-Opsbus-Incident": "inc_20260301_1200_abc123" });
  assert.ok(opened.text.includes("Service: checkout") && opened.text.includes("Acknowledge: https://opsbus.example.com/ack/"));
  const resolved = buildEmail(fixture({ kind: "resolved" }));
  assert.is(resolved.subject, "[P1] resolved: checkout error rate above 5% (checkout/prod)");
  assert.is(resolved.inReplyTo, "<inc_20260301_1200_abc123.opened.default@opsbus>");
  assert.is(resolved.references, resolved.inReplyTo);

  const n = fixture();
  n.incident = { ...n.incident, title: `<script>alert("x")</script>\r\nBcc: victim@example.com`, labels: { ...n.incident.labels } };
  n.alerts = [{ ...n.alerts[0]!, annotations: { summary: "<img src=x onerror=alert(1)>" } }];
  const evil = buildEmail(n);
  assert.not.ok(evil.html.includes("<script>"));
  assert.not.ok(evil.html.includes("<img"));
  assert.ok(evil.html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  assert.not.ok(/[\r\n]/.test(evil.subject), "no header injection through the subject");
  assert.is(messageIdOf("a b<c>@d"), "<a_b_c__d@opsbus>");
  assert.is(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
});

test.run();
