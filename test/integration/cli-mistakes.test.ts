/**
 * Silent mistakes of the CLI (issue 11, finding 9): an alert ingest would reject is refused before
 * it is published, an anonymous tool call says so, and no example invites a shell redirection.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { runOpsbus } from "../harness/docs.js";
import { startStack, type Stack } from "../harness/stack.js";

let stack: Stack;
let env: Record<string, string>;
test.before(async () => {
  stack = await startStack({ roles: ["gateway"] });
  env = { NATS_URL: stack.nats.url };
});
test.after(async () => stack.stop());

const alertsStored = async () => (await stack.running.ctx.jsm.streams.info(stack.running.ctx.subjects.alerts.stream)).state.messages;

test("alert publish --severity urgent: refused with the server's reason, exit 2, nothing published", async () => {
  const before = await alertsStored();
  const r = await runOpsbus(["alert", "publish", "--service", "cli-svc", "--title", "t", "--severity", "urgent"], env);
  assert.is(r.code, 2, r.stdout);
  assert.match(r.stderr, /alert not published: it would be rejected by ingest:\n {2}- severity: one of P0, P1, P2, P3, critical, high, warning, info/);
  assert.is(r.stdout, "", "no PubAck");
  const bad = await runOpsbus(["alert", "publish", "--json", '{"service":"cli svc","title":"t","kind":"nope"}'], env);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /kind/);
  assert.is(await alertsStored(), before, "the stream received nothing");
  const good = await runOpsbus(["alert", "publish", "--service", "cli-svc", "--title", "t", "--severity", "critical"], env);
  assert.is(good.code, 0, good.stderr);
  assert.is(await alertsStored(), before + 1);
});

test("tool without --agent or key: a warning on stderr names the role it runs as; with --agent, none", async () => {
  const anon = await runOpsbus(["tool", "monitor_tool", "status"], env);
  assert.match(anon.stderr, /no --agent and no key .*calling as an anonymous agent with role agent_default/);
  const named = await runOpsbus(["tool", "monitor_tool", "status", "--agent", "helion"], env);
  assert.not.match(named.stderr, /anonymous/);
});

/** Shell commands in help texts and runbooks (from `opsbus`/`nats` to the end of the line or code span), quoted parts removed. */
function unquotedCommandLines(text: string): string[] {
  return [...text.matchAll(/(?:^|[\s`:])((?:\.\/bin\/)?(?:opsbus|nats) [a-z][^`\n]*)/gm)].map((m) => m[1]!.replace(/'[^']*'|"[^"]*"/g, "''"));
}

test("no help text or runbook command has an unquoted subject wildcard (> redirects, * globs)", () => {
  const files = [
    ...readdirSync("src/cli").filter((f) => f.endsWith(".ts")).map((f) => `src/cli/${f}`),
    ...readdirSync("ops/runbooks").filter((f) => f.endsWith(".md")).map((f) => `ops/runbooks/${f}`),
  ];
  const bad: string[] = [];
  for (const f of files) {
    for (const l of unquotedCommandLines(readFileSync(f, "utf8"))) if (/[a-z]\.[>*]/.test(l)) bad.push(`${f}: ${l.trim()}`);
  }
  assert.equal(bad, []);
});

test.run();
