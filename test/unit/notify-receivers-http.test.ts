/**
 * Sending over HTTP to loopback receivers: what each answer means (delivered, retry with
 * Retry-After, failed), timeouts, the headers every send carries, the webhook's HMAC signature,
 * and errors that never carry the URL's token or a routing key.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ReceiversPolicy } from "../../src/config/receivers.js";
import { buildIntegrations, closeIntegrations, receiverProblems, type BuiltReceiver } from "../../src/notify/integrations/index.js";
import { HttpClient, parseRetryAfter } from "../../src/notify/integrations/http.js";
import { Pacers } from "../../src/notify/integrations/pacer.js";
import { SIGNATURE_HEADER, verifySignature } from "../../src/notify/integrations/webhook.js";
import type { Integration, SendResult } from "../../src/notify/types.js";
import { captureLogger } from "../harness/logs.js";
import { VALIDATORS } from "../harness/receiver-schemas.js";
import { notificationFixture as fixture, startHttpReceiver, type HttpReceiver } from "../harness/receivers.js";

const UA = "opsbus/0.0.0-test";
const NOW = Date.parse("2026-03-01T12:00:10Z");
const open: Array<{ close(): Promise<void> }> = [];
const built: Array<Map<string, BuiltReceiver>> = [];

test.after.each(async () => {
  await Promise.all(built.splice(0).map((m) => closeIntegrations(m)));
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function receiver(opts: Parameters<typeof startHttpReceiver>[0] = {}): Promise<HttpReceiver> {
  const r = await startHttpReceiver(opts);
  open.push(r);
  return r;
}

/** One receiver of `spec` (a receivers.yml entry) built against `env`. */
function build(spec: Record<string, unknown>, env: Record<string, string>, extra: { now?: () => number } = {}): Integration {
  const policy = ReceiversPolicy.parse({ receivers: [{ name: "r1", ...spec }] });
  const map = buildIntegrations(policy, { env, userAgent: UA, now: extra.now ?? (() => NOW), slackPacers: new Pacers(0) });
  built.push(map);
  const r = map.get("r1")!;
  assert.ok(r.integration, r.disabled);
  return r.integration!;
}

const send = (i: Integration, n = fixture()): Promise<SendResult> => i.send(n, new AbortController().signal);

test("webhook: the body, Idempotency-Key and User-Agent arrive; 200 is delivered", async () => {
  const rx = await receiver({ validate: VALIDATORS.webhook });
  const hook = build({ webhook: { url_env: "HOOK" } }, { HOOK: rx.url });
  assert.equal(await send(hook), { outcome: "delivered", status: 200 });
  const [req] = await rx.waitFor(1);
  assert.is(req!.method, "POST");
  assert.is(req!.path, new URL(rx.url).pathname);
  assert.is(req!.headers["content-type"], "application/json");
  assert.is(req!.headers["idempotency-key"], "inc_20260301_1200_abc123.opened.default");
  assert.is(req!.headers["user-agent"], UA);
  assert.is(req!.headers[SIGNATURE_HEADER], undefined);
  assert.equal(req!.problems, []);
  assert.is((req!.json as { version: string }).version, "4");
});

test("status classification: 2xx delivered, 429/5xx retry (Retry-After in seconds or an HTTP-date), other 4xx failed", async () => {
  const rx = await receiver();
  const hook = build({ webhook: { url_env: "HOOK" } }, { HOOK: rx.url });
  rx.setMode({ kind: "ok", status: 202 });
  assert.equal(await send(hook), { outcome: "delivered", status: 202 });
  rx.setMode({ kind: "status", status: 503, body: "down for maintenance" });
  const r503 = await send(hook);
  assert.equal(r503, { outcome: "retry", status: 503, error: `webhook "r1" (${new URL(rx.url).host}): HTTP 503: down for maintenance` });
  rx.setMode({ kind: "status", status: 429, retryAfter: "7" });
  assert.equal(await send(hook), { outcome: "retry", status: 429, error: `webhook "r1" (${new URL(rx.url).host}): HTTP 429: status 429`, retry_after_ms: 7000 });
  rx.setMode({ kind: "status", status: 503, retryAfter: new Date(NOW + 90_000).toUTCString() });
  const dated = await send(hook);
  assert.is(dated.outcome, "retry");
  assert.is((dated as { retry_after_ms?: number }).retry_after_ms, 90_000);
  rx.setMode({ kind: "status", status: 400, body: '{"error":"bad payload"}' });
  assert.equal(await send(hook), { outcome: "failed", status: 400, error: `webhook "r1" (${new URL(rx.url).host}): HTTP 400: {"error":"bad payload"}` });
  for (const status of [401, 403, 404, 410, 422, 301]) {
    rx.setMode({ kind: "status", status });
    assert.is((await send(hook)).outcome, "failed", String(status));
  }
  for (const status of [500, 502, 504, 408]) {
    rx.setMode({ kind: "status", status });
    assert.is((await send(hook)).outcome, "retry", String(status));
  }
});

test("parseRetryAfter: seconds, HTTP-date, past dates, junk", () => {
  assert.is(parseRetryAfter("120", NOW), 120_000);
  assert.is(parseRetryAfter("0", NOW), 0);
  assert.is(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW), 5000);
  assert.is(parseRetryAfter("Sun, 01 Mar 2026 11:00:00 GMT", NOW), 0);
  assert.is(parseRetryAfter("soon", NOW), undefined);
  assert.is(parseRetryAfter(undefined, NOW), undefined);
  assert.is(parseRetryAfter("99999999", NOW), 24 * 3_600_000);
});

test("no answer within the timeout is a retry; a refused connection is a retry", async () => {
  const rx = await receiver({ mode: { kind: "hang" } });
  const hook = build({ webhook: { url_env: "HOOK" }, timeout: "200ms" }, { HOOK: rx.url });
  const started = Date.now();
  const r = await send(hook);
  assert.equal(r, { outcome: "retry", error: `webhook "r1" (${new URL(rx.url).host}): no answer within 200 ms` });
  assert.ok(Date.now() - started < 5000);
  await rx.waitFor(1);

  const gone = await receiver();
  const url = gone.url;
  await gone.close();
  const refused = await send(build({ webhook: { url_env: "HOOK" } }, { HOOK: url }));
  assert.is(refused.outcome, "retry");
  assert.match((refused as { error: string }).error, /^webhook "r1" \(127\.0\.0\.1:\d+\): connection failed \(ECONNREFUSED\)/);
});

test("the caller's abort is a retry that says so", async () => {
  const rx = await receiver({ mode: { kind: "hang" } });
  const hook = build({ webhook: { url_env: "HOOK" } }, { HOOK: rx.url });
  const ac = new AbortController();
  const pending = hook.send(fixture(), ac.signal);
  await rx.waitFor(1);
  ac.abort();
  const r = await pending;
  assert.is(r.outcome, "retry");
  assert.match((r as { error: string }).error, /aborted/);
});

test("HMAC: X-Opsbus-Signature verifies over the raw body with the secret; tampering or an old timestamp does not", async () => {
  const rx = await receiver();
  const secret = "s3cr3t-hmac-key-for-tests";
  const hook = build({ webhook: { url_env: "HOOK", hmac_secret_env: "HOOK_KEY" } }, { HOOK: rx.url, HOOK_KEY: secret });
  assert.is((await send(hook)).outcome, "delivered");
  const [req] = await rx.waitFor(1);
  const header = String(req!.headers[SIGNATURE_HEADER]);
  assert.match(header, new RegExp(`^t=${Math.floor(NOW / 1000)},v1=[0-9a-f]{64}$`));
  assert.ok(verifySignature(secret, header, req!.body, NOW));
  assert.not.ok(verifySignature(secret, header, req!.body.replace("checkout", "checkouT"), NOW), "tampered body");
  assert.not.ok(verifySignature("other", header, req!.body, NOW), "other secret");
  assert.not.ok(verifySignature(secret, header, req!.body, NOW + 301_000), "replayed after 5 minutes");
  assert.not.ok(verifySignature(secret, "t=1,v1=zz", req!.body, NOW));
});

test("errors name the receiver and host, never the URL's path, query or token, nor a routing key", async () => {
  const rx = await receiver();
  // A receiver that echoes the request path and body back in its refusal.
  rx.setMode({ kind: "fn", fn: (req) => ({ status: 400, body: `bad request to ${req.path}: ${req.body.slice(0, 300)}` }) });
  const urlWithQuery = `${rx.url}?token=QUERYSECRET123`;
  const hook = build({ webhook: { url_env: "HOOK" } }, { HOOK: urlWithQuery });
  const r = (await send(hook)) as { error: string };
  assert.ok(r.error.startsWith(`webhook "r1" (${new URL(rx.url).host}): HTTP 400: bad request to ***`), r.error);
  assert.not.ok(r.error.includes(rx.token), r.error);
  assert.not.ok(r.error.includes("QUERYSECRET123"), r.error);

  const key = "PDROUTINGKEY0123456789abcdefABCD";
  const pd = build({ pagerduty: { routing_key_env: "PD", url: `${rx.origin}/v2/enqueue` } }, { PD: key });
  const pr = (await send(pd)) as { error: string };
  assert.is((await rx.waitFor(2))[1]!.headers["idempotency-key"], "inc_20260301_1200_abc123.opened.default");
  assert.ok(pr.error.includes("HTTP 400"), pr.error);
  assert.not.ok(pr.error.includes(key), pr.error);

  // Connection errors too: a closed port with the token in the path.
  const gone = await receiver();
  await gone.close();
  const c = (await send(build({ slack: { url_env: "S" } }, { S: gone.url }))) as { error: string };
  assert.not.ok(c.error.includes(gone.token), c.error);
  assert.ok(c.error.startsWith(`slack "r1" (127.0.0.1:`), c.error);
});

test("credentials in the URL become an Authorization header", async () => {
  const rx = await receiver();
  const u = new URL(rx.url);
  u.username = "am";
  u.password = "p@ss";
  const hook = build({ webhook: { url_env: "HOOK" } }, { HOOK: u.href });
  assert.is((await send(hook)).outcome, "delivered");
  const [req] = await rx.waitFor(1);
  assert.is(req!.headers.authorization, `Basic ${Buffer.from("am:p@ss").toString("base64")}`);
});

test("pagerduty, slack and msteams bodies arrive as their peers take them", async () => {
  const pdRx = await receiver({ validate: VALIDATORS.pagerduty, mode: { kind: "ok", status: 202 } });
  const slackRx = await receiver({ validate: VALIDATORS.slack });
  const teamsRx = await receiver({ validate: VALIDATORS.msteams, mode: { kind: "ok", status: 202 } });
  const policy = ReceiversPolicy.parse({
    receivers: [
      { name: "pd", pagerduty: { routing_key_file: "/secrets/pd", url: `${pdRx.origin}/v2/enqueue` } },
      { name: "chat", slack: { url_env: "SLACK" } },
      { name: "teams", msteams: { url_file: "/secrets/teams" } },
    ],
  });
  const files: Record<string, string> = { "/secrets/pd": "R0UTINGKEY\n", "/secrets/teams": `${teamsRx.url}\n` };
  const map = buildIntegrations(policy, { env: { SLACK: slackRx.url }, readFile: (p) => files[p]!, userAgent: UA, slackPacers: new Pacers(0) });
  built.push(map);
  for (const kind of ["opened", "acknowledged", "resolved"] as const) {
    for (const name of ["pd", "chat", "teams"]) {
      const r = await map.get(name)!.integration!.send(fixture({ kind, receiver: name }), new AbortController().signal);
      assert.is(r.outcome, "delivered", `${name} ${kind}: ${JSON.stringify(r)}`);
    }
  }
  const pd = await pdRx.waitFor(3);
  assert.equal(pd.map((r) => (r.json as { event_action: string; dedup_key: string; routing_key: string })).map((b) => [b.event_action, b.dedup_key, b.routing_key]), [
    ["trigger", "inc_20260301_1200_abc123", "R0UTINGKEY"],
    ["acknowledge", "inc_20260301_1200_abc123", "R0UTINGKEY"],
    ["resolve", "inc_20260301_1200_abc123", "R0UTINGKEY"],
  ]);
  assert.equal((await slackRx.waitFor(3)).flatMap((r) => r.problems), []);
  assert.equal((await teamsRx.waitFor(3)).flatMap((r) => r.problems), []);
});

test("receivers whose secret is unset or empty are off, with the reason; verify lists them", () => {
  const policy = ReceiversPolicy.parse({
    receivers: [
      { name: "default", webhook: { url_env: "OPSBUS_WEBHOOK_URL" } },
      { name: "blank", slack: { url_env: "BLANK" } },
      { name: "nofile", msteams: { url_file: "/nope" } },
      { name: "notaurl", webhook: { url_env: "NOTURL" } },
      { name: "ftp", webhook: { url_env: "FTP" } },
      { name: "nokey", webhook: { url_env: "OK", hmac_secret_env: "MISSING_KEY" } },
      { name: "pd", pagerduty: { routing_key_env: "PD" } },
      { name: "mail", email: { to: ["a@example.com"], from: "o@example.com", smarthost: "127.0.0.1:25", auth_username: "u", auth_password_file: "/empty" } },
      { name: "ok", webhook: { url_env: "OK" } },
    ],
  });
  const env = { BLANK: "  ", NOTURL: "hooks.example.com/TOKEN", FTP: "ftp://x.example.com/TOKEN", OK: "https://hooks.example.com/TOKEN" };
  const readFile = (p: string): string => {
    if (p === "/empty") return "\n";
    throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: "ENOENT" });
  };
  const log = captureLogger();
  const map = buildIntegrations(policy, { env, readFile, userAgent: UA, logger: log.logger });
  built.push(map);
  assert.equal(
    log.lines().filter((l) => l.msg === "receiver is off: nobody routed to it is notified").map((l) => [l.receiver, l.reason]),
    [["default", "OPSBUS_WEBHOOK_URL is not set"], ["blank", "BLANK is empty"], ["nofile", "cannot read /nope (ENOENT)"], ["notaurl", "NOTURL does not hold a URL"], ["ftp", "FTP does not hold an http(s) URL"], ["nokey", "MISSING_KEY is not set"], ["pd", "PD is not set"], ["mail", "/empty is empty"]],
  );
  assert.not.ok(log.text().includes("TOKEN"));
  const reasons = Object.fromEntries([...map].map(([name, r]) => [name, r.disabled ?? "on"]));
  assert.equal(reasons, {
    default: "OPSBUS_WEBHOOK_URL is not set",
    blank: "BLANK is empty",
    nofile: "cannot read /nope (ENOENT)",
    notaurl: "NOTURL does not hold a URL",
    ftp: "FTP does not hold an http(s) URL",
    nokey: "MISSING_KEY is not set",
    pd: "PD is not set",
    mail: "/empty is empty",
    ok: "on",
  });
  assert.not.ok(JSON.stringify(reasons).includes("TOKEN"));
  assert.equal(map.get("ok")!.settings, { timeoutMs: 10_000, maxAttempts: 10, giveUpAfterMs: 3_600_000, maxAlerts: 0 });
  const problems = receiverProblems(policy, env, readFile);
  assert.equal(problems.map((p) => p.receiver), ["default", "blank", "nofile", "notaurl", "ftp", "nokey", "pd", "mail"]);
  assert.is(problems[0]!.message, 'receiver "default" (webhook) is off: OPSBUS_WEBHOOK_URL is not set; nobody routed to it is notified');
  assert.equal(receiverProblems(policy, { ...env, OPSBUS_WEBHOOK_URL: "http://127.0.0.1:9/x" }, readFile)[0]!.receiver, "blank");
});

test("one pooled client: closing the last integration closes it; an injected client stays open", async () => {
  const rx = await receiver();
  const policy = ReceiversPolicy.parse({ receivers: [{ name: "a", webhook: { url_env: "H" } }, { name: "b", webhook: { url_env: "H" } }] });
  const shared = new HttpClient({ userAgent: UA });
  const map = buildIntegrations(policy, { env: { H: rx.url }, userAgent: UA, http: shared });
  await closeIntegrations(map);
  assert.is((await map.get("a")!.integration!.send(fixture(), new AbortController().signal)).outcome, "delivered");
  await shared.close();
  const after = await map.get("a")!.integration!.send(fixture(), new AbortController().signal);
  assert.equal(after.outcome, "retry");
  assert.match((after as { error: string }).error, /client closed/);

  const own = buildIntegrations(policy, { env: { H: rx.url }, userAgent: UA });
  await own.get("a")!.integration!.close!();
  assert.is((await own.get("b")!.integration!.send(fixture(), new AbortController().signal)).outcome, "delivered", "b still holds the pool");
  await own.get("b")!.integration!.close!();
  assert.is((await own.get("b")!.integration!.send(fixture(), new AbortController().signal)).outcome, "retry");
});

test.run();
