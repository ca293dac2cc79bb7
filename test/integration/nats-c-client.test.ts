/**
 * opsbus's NATS surface from a client that is not opsbus's own: a monitor and an agent written in
 * C on the NATS C client (nats.c, Debian's libnats-dev; test/clients/c/nats-client.c), against a
 * nats-server running the SHIPPED ops/nats/single.conf users and permissions. The monitor
 * publishes alerts with JetStream (PubAck on its private inbox, Nats-Msg-Id dedupe), resolves one
 * over NATS, and is refused what it may not publish; the agent calls the tool API by request-reply
 * with a Bearer header. Bad bytes from it are rejected and kept, and the next alert still lands.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { subjects as makeSubjects, type ToolReply } from "../../src/subjects/index.js";
import { removeAtExit } from "../harness/reaper.js";
import { startShippedOpsbus, type ShippedOpsbus } from "../harness/shipped-opsbus.js";
import { waitFor } from "../harness/wait.js";

const s = makeSubjects();
const AGENT_KEY = "key-c-agent-0123456789";
const SOURCE = join("test", "clients", "c", "nats-client.c");

const ctx = {} as { shipped: ShippedOpsbus; bin: string; admin: NatsConnection };

type User = "monitor" | "agent";
/** The C client as one of accounts.conf's users: its one JSON line of output. */
function cClient(user: User, args: string[], body: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(ctx.bin, args, {
      env: {
        PATH: process.env.PATH ?? "",
        NATS_URL: ctx.shipped.nats.url,
        NATS_USER: user,
        NATS_PASSWORD: ctx.shipped.pw[`NATS_${user.toUpperCase()}_PASSWORD`]!,
        NATS_INBOX_PREFIX: `_INBOX_${user}`,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        resolve(JSON.parse(out) as Record<string, unknown>);
      } catch {
        reject(new Error(`nats-client ${args.join(" ")} exited ${code}: ${out}${err}`));
      }
    });
    child.stdin.end(body);
  });
}

const callTool = async <T>(tool: string, action: string, params: Record<string, unknown>, key: string | null = AGENT_KEY) =>
  (await cClient("agent", ["request", s.tools.of(tool), ...(key === null ? [] : [key])], JSON.stringify({ action, params }))) as unknown as ToolReply<T>;

interface ListedAlert {
  alert_ref: string;
  service: string;
  title: string;
  fingerprint: string;
  occurrences: number;
  resolved_at?: string | null;
}
const listAlerts = async (params: Record<string, unknown>) => {
  const r = await callTool<{ alerts: ListedAlert[] }>("alert_ingest_tool", "list", params);
  if (!r.ok) throw new Error(`list refused: ${JSON.stringify(r)}`);
  return r.result.alerts;
};

test.before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-c-client-"));
  removeAtExit(dir);
  ctx.bin = join(dir, "nats-client");
  // CI installs libnats-dev (.ci/run); a machine without it says so here.
  const built = spawnSync("cc", ["-O1", "-Wall", "-o", ctx.bin, SOURCE, "-lnats"], { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`cannot build ${SOURCE} (apt-get install libnats-dev): ${built.stderr}${built.error?.message ?? ""}`);
  ctx.shipped = await startShippedOpsbus(`sofiia=${AGENT_KEY}`);
  ctx.admin = await connect({ servers: ctx.shipped.nats.url, user: "admin", pass: ctx.shipped.pw.NATS_ADMIN_PASSWORD! });
  await ctx.shipped.up(async () => (await callTool("alert_ingest_tool", "list", {})).ok);
});

test.after(async () => {
  await ctx.admin?.close();
  await ctx.shipped?.stop();
});

const queueAlert = { service: "payments", title: "queue depth over 10k", kind: "resource", severity: "high", env: "prod", fingerprint: "c-queue-depth" };

test("a C monitor publishes an alert with JetStream: PubAck on its own inbox; the same Nats-Msg-Id again is a duplicate; stored once", async () => {
  const first = await cClient("monitor", ["js-publish", s.alerts.in("payments"), "c-monitor-1"], JSON.stringify(queueAlert));
  assert.is(first.stream, s.alerts.stream, JSON.stringify(first));
  assert.is(first.duplicate, false);
  const again = await cClient("monitor", ["js-publish", s.alerts.in("payments"), "c-monitor-1"], JSON.stringify(queueAlert));
  assert.equal(again, { ...first, duplicate: true }, "JetStream dropped the retry: same sequence");
  const stored = await waitFor(async () => (await listAlerts({ service: "payments" })).find((a) => a.fingerprint === "c-queue-depth") ?? null, {
    timeoutMs: 20_000, message: "the C monitor's alert stored",
  });
  assert.is(stored.title, "queue depth over 10k");
  assert.is(stored.occurrences, 1);
});

test("the C agent's tool call without a key, or with a wrong one, is refused in the reply envelope", async () => {
  for (const key of [null, "key-guessed-0000000000"]) {
    const r = await callTool("alert_ingest_tool", "list", {}, key);
    assert.is(r.ok, false, JSON.stringify(r));
    assert.is((r as Extract<ToolReply<unknown>, { ok: false }>).error.code, "unauthenticated", JSON.stringify(r));
  }
});

test("a C monitor resolves its alert over NATS (status: resolved): the alert is resolved, with no new alert", async () => {
  const ack = await cClient("monitor", ["js-publish", s.alerts.in("payments"), "c-monitor-resolve-1"], JSON.stringify({ service: "payments", fingerprint: "c-queue-depth", status: "resolved" }));
  assert.is(ack.duplicate, false, JSON.stringify(ack));
  const resolved = await waitFor(async () => (await listAlerts({ service: "payments", state: "resolved" })).find((a) => a.fingerprint === "c-queue-depth") ?? null, {
    timeoutMs: 20_000, message: "the alert resolved",
  });
  assert.ok(resolved.resolved_at, JSON.stringify(resolved));
  assert.is((await listAlerts({ service: "payments" })).length, 1, "the resolve opened no alert of its own");
});

test("bytes from a C monitor that are not an alert are rejected and kept (alert.rejected), and its next alert still lands", async () => {
  const bad = await cClient("monitor", ["js-publish", s.alerts.in("payments"), "c-monitor-bad-1"], "{not json");
  const rejected = await waitFor(async () => {
    const m = await (await jetstreamManager(ctx.admin)).streams.getMessage(s.events.stream, { last_by_subj: s.events.of("alert.rejected") }).catch(() => null);
    return m ? (m.json<{ data: { stream_seq?: number; reasons: string[]; raw: string } }>().data) : null;
  }, { timeoutMs: 20_000, message: "an alert.rejected event" });
  assert.is(rejected.stream_seq, bad.seq);
  assert.is(rejected.raw, "{not json");
  assert.match(rejected.reasons.join("; "), /not valid JSON/);
  await cClient("monitor", ["js-publish", s.alerts.in("payments"), "c-monitor-2"], JSON.stringify({ ...queueAlert, title: "consumer lag over 5m", fingerprint: "c-lag" }));
  await waitFor(async () => (await listAlerts({ service: "payments" })).some((a) => a.fingerprint === "c-lag"), { timeoutMs: 20_000, message: "the next alert stored" });
});

test("the server refuses a C monitor a trigger or a tool request, and a C agent an alert", async () => {
  for (const subject of [s.jobs.trigger("audit_cleanup"), s.tools.of("audit_tool")]) {
    const r = await cClient("monitor", ["publish", subject], JSON.stringify({ trigger: "schedule", task_id: "audit_cleanup", slot: "2026-03-02T06:07:00Z" }));
    assert.match(String(r.error), `Permissions Violation for Publish to "${subject}"`, JSON.stringify(r));
  }
  const r = await cClient("agent", ["publish", s.alerts.in("payments")], JSON.stringify(queueAlert));
  assert.match(String(r.error), `Permissions Violation for Publish to "${s.alerts.in("payments")}"`, JSON.stringify(r));
});

test.run();
