/** Email to a loopback SMTP sink (smtp-server): both parts, Message-ID from the key, SMTP replies classified, no password in errors. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ReceiversPolicy } from "../../src/config/receivers.js";
import { buildIntegrations, closeIntegrations, type BuiltReceiver } from "../../src/notify/integrations/index.js";
import type { Integration } from "../../src/notify/types.js";
import { freePort } from "../harness/ports.js";
import { notificationFixture as fixture, startSmtpSink, type SmtpSink } from "../harness/receivers.js";

const sinks: SmtpSink[] = [];
const built: Array<Map<string, BuiltReceiver>> = [];
test.after.each(async () => {
  await Promise.all(built.splice(0).map((m) => closeIntegrations(m)));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

function mailer(smarthost: string, extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Integration {
  const policy = ReceiversPolicy.parse({
    receivers: [{ name: "mail", email: { to: ["oncall@example.com", "sre@example.com"], from: "opsbus <opsbus@example.com>", smarthost, ...extra }, timeout: "3s" }],
  });
  const map = buildIntegrations(policy, { env, userAgent: "opsbus/test" });
  built.push(map);
  const r = map.get("mail")!;
  assert.ok(r.integration, r.disabled);
  return r.integration!;
}

const signal = () => new AbortController().signal;

test("the sink receives text and HTML parts, Message-ID from the key, the idempotency header and the thread", async () => {
  const sink = await startSmtpSink();
  sinks.push(sink);
  const mail = mailer(sink.smarthost);
  assert.equal(await mail.send(fixture({ receiver: "mail", integration: "email" }), signal()), { outcome: "delivered", status: 250 });
  assert.is((await mail.send(fixture({ kind: "resolved", receiver: "mail", integration: "email" }), signal())).outcome, "delivered");
  const [opened, resolved] = await sink.waitFor(2);
  assert.equal(opened!.envelope, { from: "opsbus@example.com", to: ["oncall@example.com", "sre@example.com"] });
  assert.is(opened!.subject, "[P1] opened: checkout error rate above 5% (checkout/prod)");
  assert.is(opened!.messageId, "<inc_20260301_1200_abc123.opened.mail@opsbus>");
  assert.is(opened!.headers["x-opsbus-idempotency-key"], "inc_20260301_1200_abc123.opened.mail");
  assert.ok(opened!.text?.includes("Service: checkout"), opened!.text);
  assert.ok(opened!.html?.includes("<th align=\"left\">Service</th><td>checkout</td>"), opened!.html);
  assert.is(resolved!.messageId, "<inc_20260301_1200_abc123.resolved-1a2b3c.mail@opsbus>");
  assert.is(resolved!.headers["in-reply-to"], "<inc_20260301_1200_abc123.opened.mail@opsbus>");
  assert.is(resolved!.headers.references, "<inc_20260301_1200_abc123.opened.mail@opsbus>");
});

test("a title with non-ASCII text and markup arrives intact in the subject and escaped in the HTML", async () => {
  const sink = await startSmtpSink();
  sinks.push(sink);
  const n = fixture({ receiver: "mail", integration: "email" });
  n.incident = { ...n.incident, title: "Zahlungsdienst ausgefallen — <b>Ü</b> 🚨" };
  assert.is((await mailer(sink.smarthost).send(n, signal())).outcome, "delivered");
  const [m] = await sink.waitFor(1);
  assert.is(m!.subject, "[P1] opened: Zahlungsdienst ausgefallen — <b>Ü</b> 🚨 (checkout/prod)");
  assert.ok(m!.html!.includes("Zahlungsdienst ausgefallen — &lt;b&gt;Ü&lt;/b&gt; 🚨"), m!.html);
  assert.not.ok(m!.html!.includes("<b>Ü"));
});

test("SMTP 4xx is a retry, 5xx fails, a refused connection is a retry", async () => {
  const sink = await startSmtpSink();
  sinks.push(sink);
  const mail = mailer(sink.smarthost);
  sink.setMode({ kind: "reject", code: 451, message: "try again later" });
  const temp = await mail.send(fixture(), signal());
  assert.equal({ outcome: temp.outcome, status: temp.status }, { outcome: "retry", status: 451 });
  assert.match((temp as { error: string }).error, new RegExp(`^email "mail" \\(${sink.smarthost}\\): SMTP 451: .*try again later`));
  sink.setMode({ kind: "reject", code: 554, message: "message refused" });
  const perm = await mail.send(fixture(), signal());
  assert.equal({ outcome: perm.outcome, status: perm.status }, { outcome: "failed", status: 554 });
  sink.setMode({ kind: "ok" });
  assert.is((await mail.send(fixture(), signal())).outcome, "delivered");

  const closed = `127.0.0.1:${await freePort()}`;
  const refused = await mailer(closed).send(fixture(), signal());
  assert.is(refused.outcome, "retry");
  assert.match((refused as { error: string }).error, new RegExp(`^email "mail" \\(${closed}\\): `));
});

test("login with the password from the environment; a wrong one fails (535) without the password in the error", async () => {
  const sink = await startSmtpSink({ auth: { user: "opsbus", pass: "right-Pa55word" } });
  sinks.push(sink);
  const auth = { auth_username: "opsbus", auth_password_env: "SMTP_PASS" };
  assert.is((await mailer(sink.smarthost, auth, { SMTP_PASS: "right-Pa55word" }).send(fixture(), signal())).outcome, "delivered");
  const [m] = await sink.waitFor(1);
  assert.is(m!.user, "opsbus");
  const wrong = await mailer(sink.smarthost, auth, { SMTP_PASS: "wrong-Pa55word" }).send(fixture(), signal());
  assert.equal({ outcome: wrong.outcome, status: wrong.status }, { outcome: "failed", status: 535 });
  assert.not.ok((wrong as { error: string }).error.includes("wrong-Pa55word"));
});

test.run();
