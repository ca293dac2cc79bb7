/** NATS credentials from the environment, and connection errors that name the server without a secret. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnv } from "../../src/config/env.js";
import { ConfigError } from "../../src/config/errors.js";
import { NatsConnectError, natsAuthOptions, openNats, printableUrl } from "../../src/nats/connect.js";
import { freePort } from "../harness/ports.js";

const dir = mkdtempSync(join(tmpdir(), "natsauth-"));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

test("user and password, from the variable or a file; the identity never carries the secret", () => {
  const a = natsAuthOptions({ NATS_USER: "opsbus", NATS_PASSWORD: "pw-1" });
  assert.equal([a.options.user, a.options.pass, a.identity], ["opsbus", "pw-1", "user opsbus"]);
  const b = natsAuthOptions({ NATS_USER: "opsbus", NATS_PASSWORD_FILE: file("pw", "pw-2\n") });
  assert.is(b.options.pass, "pw-2", "a secret file's trailing newline is not part of it");
  const t = natsAuthOptions({ NATS_TOKEN_FILE: file("tok", "t-3") });
  assert.equal([t.options.token, t.identity], ["t-3", "token"]);
  assert.equal(natsAuthOptions({}), { options: {}, identity: "no credentials" });
});

test("a creds file becomes an authenticator; TLS files and the inbox prefix pass through", () => {
  const creds = file("u.creds", "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.x\n------END NATS USER JWT------\n");
  const a = natsAuthOptions({ NATS_CREDS: creds, NATS_TLS_CA: "/ca.pem", NATS_TLS_CERT: "/c.pem", NATS_TLS_KEY: "/k.pem", NATS_INBOX_PREFIX: "_INBOX_agent" });
  assert.type(a.options.authenticator, "function");
  assert.equal(a.options.tls, { caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" });
  assert.is(a.options.inboxPrefix, "_INBOX_agent");
  assert.is(a.identity, `creds ${creds}, TLS client certificate`);
});

test("combinations that cannot be meant are refused at start-up, naming the variables", () => {
  const problems = (env: Parameters<typeof natsAuthOptions>[0]) => {
    try {
      natsAuthOptions(env);
      return "accepted";
    } catch (err) {
      assert.instance(err, ConfigError);
      return (err as ConfigError).problems.join("; ");
    }
  };
  assert.match(problems({ NATS_USER: "a", NATS_TOKEN: "t" }), "NATS_USER, NATS_TOKEN: choose one");
  assert.match(problems({ NATS_CREDS: "/x", NATS_USER: "a" }), "NATS_CREDS, NATS_USER: choose one");
  assert.match(problems({ NATS_PASSWORD: "p" }), "NATS_PASSWORD: set NATS_USER as well");
  assert.match(problems({ NATS_USER: "a", NATS_PASSWORD: "p", NATS_PASSWORD_FILE: "/f" }), "set one, not both");
  assert.match(problems({ NATS_TLS_CERT: "/c.pem" }), "NATS_TLS_CERT and NATS_TLS_KEY");
  assert.match(problems({ NATS_CREDS: join(dir, "missing.creds") }), /NATS_CREDS: cannot read .*missing\.creds \(ENOENT\)/);
  assert.throws(() => loadEnv({ NATS_INBOX_PREFIX: "_INBOX.agent" }), /NATS_INBOX_PREFIX/);
});

test("printable URLs mask passwords in every server of the list", () => {
  assert.is(printableUrl("nats://opsbus:s3cret@a:4222, nats://b:4222"), "nats://opsbus:***@a:4222,nats://b:4222");
});

test("a failed connection names the server and the identity, never the password", async () => {
  const port = await freePort();
  const url = `nats://ops:url-secret@127.0.0.1:${port}`;
  const err = await openNats({ url, name: "t", timeoutMs: 1000, auth: { NATS_USER: "opsbus", NATS_PASSWORD: "env-secret" } }).then(() => null, (e: Error) => e);
  assert.instance(err, NatsConnectError);
  assert.match(err!.message, `cannot connect to NATS at nats://ops:***@127.0.0.1:${port} (user opsbus): `);
  assert.not.match(err!.message, /url-secret|env-secret/);
});

test.run();
