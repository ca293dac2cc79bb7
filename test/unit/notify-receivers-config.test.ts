/** config/receivers.yml: the shipped file, defaults, and refusals that name the path and what is allowed, never a secret. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatIssues } from "../../src/config/errors.js";
import { loadPolicies } from "../../src/config/load.js";
import { PAGERDUTY_EVENTS_URL, ReceiversPolicy } from "../../src/config/receivers.js";

/** The config errors for `raw`, as loadPolicies reports them ([] when valid). */
function problems(raw: unknown): string[] {
  const r = ReceiversPolicy.safeParse(raw);
  return r.success ? [] : formatIssues(r.error.issues, raw);
}
const parse = (raw: unknown) => ReceiversPolicy.parse(raw).receivers;

test("the shipped file: one webhook receiver `default` reading OPSBUS_WEBHOOK_URL, with the delivery defaults", () => {
  const { receivers } = loadPolicies("config").receivers;
  assert.equal(receivers, [
    {
      name: "default",
      integration: "webhook",
      config: { url: { env: "OPSBUS_WEBHOOK_URL" } },
      settings: { timeoutMs: 10_000, maxAttempts: 10, giveUpAfterMs: 3_600_000, maxAlerts: 0 },
    },
  ]);
});

test("every integration with its settings", () => {
  const rs = parse({
    receivers: [
      { name: "hook", webhook: { url_file: "/run/secrets/hook", hmac_secret_env: "HOOK_KEY" }, timeout: "2s", max_attempts: 3, give_up_after: "10m", rate_per_second: 5 },
      { name: "chat", slack: { url_env: "SLACK_URL" } },
      { name: "pager", pagerduty: { routing_key_env: "PD_KEY" } },
      { name: "pager-eu", pagerduty: { routing_key_file: "/k", url: "https://events.eu.pagerduty.com/v2/enqueue" } },
      { name: "mail", email: { to: ["oncall@example.com"], from: "opsbus <opsbus@example.com>", smarthost: "smtp.example.com:587", auth_username: "u", auth_password_env: "SMTP_PASS" } },
      { name: "local-mail", email: { to: ["a@example.com"], from: "o@example.com", smarthost: "127.0.0.1:2525", hello: "opsbus.local" } },
      { name: "teams", msteams: { url_env: "TEAMS_URL" } },
    ],
  });
  assert.equal(rs[0], {
    name: "hook",
    integration: "webhook",
    config: { url: { file: "/run/secrets/hook" }, hmac_secret: { env: "HOOK_KEY" } },
    settings: { timeoutMs: 2000, maxAttempts: 3, giveUpAfterMs: 600_000, maxAlerts: 0, ratePerSecond: 5 },
  });
  assert.equal(rs[2]!.config, { routing_key: { env: "PD_KEY" }, url: PAGERDUTY_EVENTS_URL });
  assert.equal(rs[3]!.config, { routing_key: { file: "/k" }, url: "https://events.eu.pagerduty.com/v2/enqueue" });
  assert.equal(rs[4]!.config, {
    to: ["oncall@example.com"],
    from: "opsbus <opsbus@example.com>",
    smarthost: { host: "smtp.example.com", port: 587 },
    require_tls: true,
    auth: { username: "u", password: { env: "SMTP_PASS" } },
  });
  // A loopback smarthost does not require TLS unless told to.
  assert.is((rs[5]!.config as { require_tls: boolean }).require_tls, false);
  assert.equal(rs.map((r) => r.integration), ["webhook", "slack", "pagerduty", "pagerduty", "email", "email", "msteams"]);
});

test("a literal URL, routing key or password is refused, pointing at *_env / *_file, and the value is never quoted", () => {
  const token = "T0000/B0000/XXXXsecretXXXX";
  const raw = {
    receivers: [
      { name: "a", webhook: { url: `https://hooks.example.com/${token}` } },
      { name: "b", slack: { url: `https://hooks.slack.com/services/${token}` } },
      { name: "c", msteams: { url: `https://prod.logic.azure.com/workflows/${token}` } },
      { name: "d", pagerduty: { routing_key: token } },
      { name: "e", email: { to: ["a@example.com"], from: "o@example.com", smarthost: "smtp.example.com:25", auth_username: "u", auth_password: token } },
      { name: "f", webhook: { url_env: `https://hooks.example.com/${token}` } },
      { name: "g", webhook: { url_env: "X", hmac_secret: token } },
      { name: "h", webhook: { urll: `https://hooks.example.com/${token}`, url_env: "X" } },
    ],
  };
  const out = problems(raw);
  const text = out.join("\n");
  assert.not.ok(text.includes("XXXXsecretXXXX"), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.0.webhook.url:") && /literal url is refused.*url_env.*url_file/.test(p)), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.1.slack.url:") && p.includes("url_env")), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.2.msteams.url:") && p.includes("url_file")), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.3.pagerduty.routing_key:") && p.includes("routing_key_env")), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.4.email.auth_password:") && p.includes("auth_password_env")), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.5.webhook.url_env:") && p.includes("an environment variable name")), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.6.webhook.hmac_secret:") && p.includes("hmac_secret_file")), text);
  assert.ok(out.some((p) => p.startsWith("at receivers.7.webhook:") && p.includes('unknown key "urll"') && p.includes("allowed: url_env, url_file, hmac_secret_env, hmac_secret_file")), text);
});

test("an unknown integration names the allowed ones; none, or two, is refused", () => {
  const unknown = problems({ receivers: [{ name: "x", opsgenie: { api_key: "k" } }] });
  assert.ok(unknown.some((p) => p.startsWith("at receivers.0:") && p.includes('unknown key "opsgenie"') && p.includes("webhook, slack, pagerduty, email, msteams")), unknown.join("\n"));
  assert.not.ok(unknown.join("\n").includes('"k"'));
  const none = problems({ receivers: [{ name: "x", timeout: "5s" }] });
  assert.equal(none, ['at receivers.0: got {"name":"x","timeout":"5s"}; no integration: add exactly one of webhook, slack, pagerduty, email, msteams']);
  const two = problems({ receivers: [{ name: "x", webhook: { url_env: "A" }, slack: { url_env: "B" } }] });
  assert.ok(two.some((p) => p.includes("exactly one integration per receiver; got webhook and slack")), two.join("\n"));
});

test("names: unique, and of the allowed characters", () => {
  const dup = problems({ receivers: [{ name: "ops", webhook: { url_env: "A" } }, { name: "ops", slack: { url_env: "B" } }] });
  assert.equal(dup, ['at receivers.1.name: got "ops"; another receiver is already named "ops"']);
  for (const name of ["", "-x", "has space", "a.b", "x".repeat(65)]) {
    const out = problems({ receivers: [{ name, webhook: { url_env: "A" } }] });
    assert.ok(out.length === 1 && out[0]!.startsWith("at receivers.0.name:") && out[0]!.includes("letters, digits, _ and -"), `${name}: ${out.join("\n")}`);
  }
  assert.equal(parse({ receivers: [{ name: "x".repeat(64), webhook: { url_env: "A" } }] }).length, 1);
});

test("secret references: one of *_env / *_file, a variable name, settings in bounds", () => {
  const out = problems({
    receivers: [
      { name: "a", webhook: {} },
      { name: "b", webhook: { url_env: "A", url_file: "/f" } },
      { name: "c", email: { to: ["a@example.com"], from: "o@example.com", smarthost: "smtp.example.com", auth_username: "u" } },
      { name: "d", email: { to: [], from: "nope", smarthost: "smtp.example.com:99999" } },
      { name: "e", webhook: { url_env: "A" }, timeout: "10", max_attempts: 0, give_up_after: "0s", rate_per_second: -1 },
      { name: "f", pagerduty: { routing_key_env: "K", url: "ftp://x" } },
    ],
  });
  const expect = [
    "at receivers.0.webhook: got {}; set url_env (an environment variable name) or url_file (a file holding it)",
    "at receivers.1.webhook: got",
    "set one of url_env or url_file, not both",
    "at receivers.2.email.smarthost:",
    "at receivers.3.email.to: got []; at least one recipient",
    "at receivers.3.email.from:",
    "at receivers.3.email.smarthost:",
    'at receivers.4.timeout: got "10"; not a duration',
    "at receivers.4.max_attempts:",
    "at receivers.4.give_up_after:",
    "at receivers.4.rate_per_second:",
    "at receivers.5.pagerduty.url:",
  ];
  const text = out.join("\n");
  for (const e of expect) assert.ok(text.includes(e), `missing ${e} in\n${text}`);
  // A user without a password (or the other way round) is refused once the smarthost is right.
  const auth = problems({ receivers: [{ name: "c", email: { to: ["a@example.com"], from: "o@example.com", smarthost: "smtp.example.com:25", auth_username: "u" } }] });
  assert.ok(auth.some((p) => p.includes("auth_username given without auth_password_env or auth_password_file")), auth.join("\n"));
});

test("an empty receivers list (everything commented out) is no receivers; a misspelt top key names the right one", () => {
  assert.equal(parse({ receivers: null }), []);
  assert.equal(parse({}), []);
  assert.equal(problems({ receiver: [] }), ['at (root): got {"receiver":[]}; unknown key "receiver"; allowed: receivers']);
});

test.run();
