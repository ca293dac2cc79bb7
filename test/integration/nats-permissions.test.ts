/**
 * Issue 11, finding 4 ("the bus is open"). On a nats-server running the SHIPPED ops/nats/single.conf
 * (accounts.conf users and permissions, dev.env passwords): nobody connects without credentials;
 * a monitor may publish alerts and nothing else (no trigger, work item, graph run or event, no
 * reading of tool requests, no purge); an agent calls a tool and gets its reply on its private
 * inbox; only admin deletes or purges streams; opsbus itself, a child process started with the
 * opsbus user's credentials, keeps working end to end (alert in → stored → incident).
 * On an OPEN server (defence in depth): a forged trigger with a made-up or not-yet-due slot is
 * refused (ledger `skipped: forged`, audited), never run, and never takes the real slot's key.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { headers, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { FORGED, TRIGGER_CHANNEL } from "../../src/jobs/trigger-check.js";
import { slotIso } from "../../src/jobs/ledger-rules.js";
import { subjects as makeSubjects, type ToolReply } from "../../src/subjects/index.js";
import type { RunningWorker } from "../../src/workers/types.js";
import { startRunnerWithHoldTool, writeTaskRegistry, type HoldCall } from "../harness/jobs.js";
import type { NatsServerHandle } from "../harness/nats.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { startShippedOpsbus, type ShippedOpsbus } from "../harness/shipped-opsbus.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const s = makeSubjects();
const SOFIIA_KEY = "key-sofiia-0123456789";
const enc = (v: unknown) => JSON.stringify(v);

/** A client as one of accounts.conf's users, recording every server error (permission violations). */
interface Client {
  nc: NatsConnection;
  errors: string[];
  violated(op: "Publish to" | "Subscription to", subject: string): Promise<void>;
}

async function clientAs(url: string, user: string, password: string, inboxPrefix?: string): Promise<Client> {
  const nc = await connect({ servers: url, user, pass: password, ...(inboxPrefix ? { inboxPrefix } : {}) });
  const errors: string[] = [];
  void (async () => {
    for await (const st of nc.status()) if (st.type === "error") errors.push(st.error.message);
  })();
  return {
    nc,
    errors,
    violated: async (op, subject) => {
      await waitFor(() => errors.some((e) => e.startsWith(`Permissions Violation for ${op} "${subject}"`)), { timeoutMs: 5000, message: `server refuses ${op} ${subject}` });
    },
  };
}

async function callTool<T>(nc: NatsConnection, tool: string, action: string, params: Record<string, unknown>): Promise<ToolReply<T>> {
  const h = headers();
  h.set("Authorization", `Bearer ${SOFIIA_KEY}`);
  return (await nc.request(s.tools.of(tool), enc({ action, params }), { timeout: 10_000, headers: h })).json<ToolReply<T>>();
}

/** Resolves with the error a subscription is closed with (a permissions violation ends it). */
async function refusal(sub: Subscription, received: string[]): Promise<string> {
  try {
    for await (const m of sub) received.push(m.string());
    return "closed without an error";
  } catch (err) {
    return (err as Error).message;
  }
}

// ---------------------------------------------------------------------------------------------
const locked = suite("shipped permissions");
const ctx = {} as { shipped: ShippedOpsbus; nats: NatsServerHandle; pw: Record<string, string>; opsbus: OpsbusProcess; monitor: Client; agent: Client; admin: Client };

locked.before(async () => {
  ctx.shipped = await startShippedOpsbus(`sofiia=${SOFIIA_KEY}`);
  ctx.nats = ctx.shipped.nats;
  ctx.pw = ctx.shipped.pw;
  ctx.opsbus = ctx.shipped.opsbus;
  ctx.monitor = await clientAs(ctx.nats.url, "monitor", ctx.pw.NATS_MONITOR_PASSWORD!, "_INBOX_monitor");
  ctx.agent = await clientAs(ctx.nats.url, "agent", ctx.pw.NATS_AGENT_PASSWORD!, "_INBOX_agent");
  ctx.admin = await clientAs(ctx.nats.url, "admin", ctx.pw.NATS_ADMIN_PASSWORD!);
  await ctx.shipped.up(async () => (await callTool(ctx.agent.nc, "alert_ingest_tool", "list", {})).ok);
});
locked.after(async () => {
  for (const c of [ctx.monitor, ctx.agent, ctx.admin]) await c?.nc.close();
  await ctx.shipped?.stop();
});

locked("no credentials, or a wrong password: the server refuses the connection", async () => {
  for (const opts of [{}, { user: "monitor", pass: "guess" }, { user: "opsbus", pass: ctx.pw.NATS_MONITOR_PASSWORD! }]) {
    const err = await connect({ servers: ctx.nats.url, ...opts }).then(async (nc) => (await nc.close(), "connected"), (e: Error) => e.message);
    assert.match(err, /Authorization Violation/, JSON.stringify(opts));
  }
});

locked("opsbus with a wrong password stops at start-up, naming the server and its user, never the password", async () => {
  const proc = spawnOpsbus(["worker", "gateway"], {
    NATS_URL: ctx.nats.url, NATS_USER: "opsbus", NATS_PASSWORD: "wrong-secret-4711", OPSBUS_START_NATS: "0",
    DATA_DIR: mkdtempSync(join(tmpdir(), "opsbus-perm-")), AUDIT_BACKEND: "memory",
  });
  await waitFor(() => proc.child.exitCode !== null, { timeoutMs: 30_000, message: "opsbus gives up" });
  assert.is.not(proc.child.exitCode, 0);
  assert.match(proc.output(), `cannot connect to NATS at ${ctx.nats.url} (user opsbus): Authorization Violation`);
  assert.not.match(proc.output(), "wrong-secret-4711");
});

locked("opsbus on its own user works end to end: a monitor's alert is stored, an incident opened, the agent reads both", async () => {
  const ack = await jetstream(ctx.monitor.nc).publish(s.alerts.in("checkout"), enc({ service: "checkout", title: "5xx above SLO", kind: "error_rate", severity: "P1", env: "prod" }));
  assert.is(ack.stream, s.alerts.stream, "the monitor's PubAck arrives on its private inbox");
  const stored = await waitFor(async () => {
    const r = await callTool<{ alerts: { service: string; title: string }[] }>(ctx.agent.nc, "alert_ingest_tool", "list", { service: "checkout" });
    return r.ok && r.result.alerts.length ? r.result.alerts : null;
  }, { timeoutMs: 20_000, message: "the alert stored" });
  assert.is(stored[0]!.title, "5xx above SLO");
  await waitFor(async () => {
    const r = await callTool<{ count: number }>(ctx.agent.nc, "oncall_tool", "incident_list", { service: "checkout" });
    return r.ok && r.result.count > 0;
  }, { timeoutMs: 20_000, message: "the triage bridge opened an incident (work items, events under the opsbus user)" });
  assert.not.match(ctx.opsbus.output(), /Permissions Violation/, ctx.opsbus.output().split("\n").filter((l) => l.includes("Violation")).slice(0, 5).join("\n"));
});

locked("a monitor cannot publish a trigger, a work item, a graph run, an event or a tool request; an agent cannot publish an alert", async () => {
  const forged = [s.jobs.trigger("audit_cleanup"), s.alerts.work("checkout"), s.graphs.run("postmortem_draft"), s.events.of("incident.closed"), s.tools.of("audit_tool")];
  for (const subject of forged) ctx.monitor.nc.publish(subject, enc({ trigger: "schedule", task_id: "audit_cleanup", slot: "2026-03-02T06:07:00Z", scheduler: "attacker" }));
  for (const subject of forged) await ctx.monitor.violated("Publish to", subject);
  const jsm = await jetstreamManager(ctx.admin.nc);
  const stored = await jsm.streams.getMessage(s.events.stream, { last_by_subj: s.events.of("incident.closed") }).then((m) => m?.subject ?? null, () => null);
  assert.is(stored, null, "no incident.closed event in OPS_EVENTS");
  // An agent may only request tools: no alerts, triggers or events either.
  ctx.agent.nc.publish(s.alerts.in("checkout"), enc({ service: "checkout", title: "t" }));
  await ctx.agent.violated("Publish to", s.alerts.in("checkout"));
});

locked("nobody but opsbus reads tool requests (Bearer keys) or another user's replies", async () => {
  const received: string[] = [];
  const refused = [
    refusal(ctx.monitor.nc.subscribe(`${s.tools.group}.>`), received),
    refusal(ctx.monitor.nc.subscribe(`${s.tools.group}.>`, { queue: "q" }), received),
    refusal(ctx.agent.nc.subscribe(s.tools.of("audit_tool")), received),
    refusal(ctx.agent.nc.subscribe("_INBOX.>"), received),
    refusal(ctx.agent.nc.subscribe("_INBOX_monitor.>"), received),
    refusal(ctx.monitor.nc.subscribe("_INBOX_agent.>"), received),
    refusal(ctx.admin.nc.subscribe(`${s.tools.group}.>`), received),
  ];
  const reasons = await Promise.all(refused);
  for (const r of reasons) assert.match(r, /^Permissions Violation for Subscription to/, r);
  // With those subscriptions refused, a keyed call goes to opsbus alone and its reply to the agent alone.
  const reply = await callTool(ctx.agent.nc, "audit_tool", "query", { limit: 1 });
  assert.ok(reply.ok, JSON.stringify(reply));
  assert.equal(received, [], "no request or reply reached another user");
});

locked("only admin may purge or delete a stream: not a monitor, not opsbus itself", async () => {
  const opsbusUser = await clientAs(ctx.nats.url, "opsbus", ctx.pw.NATS_OPSBUS_PASSWORD!);
  try {
    for (const c of [ctx.monitor, opsbusUser]) {
      for (const api of [`$JS.API.STREAM.PURGE.${s.events.stream}`, `$JS.API.STREAM.DELETE.${s.events.stream}`]) {
        const err = await c.nc.request(api, "", { timeout: 3000 }).then((m) => `answered ${m.string()}`, (e: Error) => e.message);
        assert.match(err, new RegExp(`Permissions Violation for Publish to "\\${api.replace(/\./g, "\\.")}"`));
      }
    }
    const jsm = await jetstreamManager(ctx.admin.nc);
    assert.ok((await jsm.streams.info(s.events.stream)).state.messages > 0, "the events stream was not purged");
    await jsm.streams.add({ name: "SCRATCH", subjects: ["scratch.>"] });
    await jetstream(ctx.admin.nc).publish("scratch.a", "x");
    assert.is((await jsm.streams.purge("SCRATCH")).purged, 1, "admin purges");
    assert.ok(await jsm.streams.delete("SCRATCH"), "admin deletes");
  } finally {
    await opsbusUser.nc.close();
  }
});

locked("the scheduler user may publish triggers, but a made-up slot is refused by the runner (skipped: forged), never run", async () => {
  const scheduler = await clientAs(ctx.nats.url, "scheduler", ctx.pw.NATS_SCHEDULER_PASSWORD!, "_INBOX_scheduler");
  try {
    const slot = "2026-03-02T06:07:00Z";
    await jetstream(scheduler.nc).publish(s.jobs.trigger("audit_cleanup"), enc({ trigger: "schedule", task_id: "audit_cleanup", slot, scheduler: "attacker" }));
    const run = await waitFor(async () => {
      const r = await callTool<{ runs: { slot: string; status: string; reason?: string; requested_by: string }[] }>(ctx.agent.nc, "jobs_tool", "list_runs", { task_id: "audit_cleanup" });
      return r.ok ? r.result.runs.find((x) => x.slot === slot && x.status === "skipped") : undefined;
    }, { timeoutMs: 20_000, message: "the forged run recorded" });
    assert.equal([run.reason, run.requested_by], [FORGED, "unverified"]);
    scheduler.nc.publish(s.events.of("job.succeeded"), "{}");
    await scheduler.violated("Publish to", s.events.of("job.succeeded"));
  } finally {
    await scheduler.nc.close();
  }
});

// ---------------------------------------------------------------------------------------------
const open = suite("open server: forged triggers");
const o = {} as { stack: Stack; runner: RunningWorker; calls: HoldCall[] };
const NIGHTLY = "0 3 * * *";

open.before(async () => {
  const tasks = writeTaskRegistry({ defaults: { catchup_window_minutes: 0, lease_seconds: 5 }, tasks: [{ id: "nightly", cron: NIGHTLY, tool: "test_tool", action: "work" }] });
  o.stack = await startStack({ roles: ["gateway"], env: { TASK_REGISTRY: tasks } });
  o.calls = [];
  o.runner = await startRunnerWithHoldTool(o.stack.running.ctx, o.calls);
});
open.after(async () => {
  await o.runner?.stop();
  await o.stack?.stop();
});

const ledger = () => o.stack.running.ctx.stores.jobs;
const publishTrigger = (slot: string, scheduler = "attacker") =>
  o.stack.js.publish(s.jobs.trigger("nightly"), enc({ trigger: "schedule", task_id: "nightly", slot, scheduler }), { msgID: s.jobs.slotMsgId("nightly", slot) });
const settled = (key: string) =>
  waitFor(async () => {
    const r = await ledger().getByKey(key);
    return r && !["queued", "running"].includes(r.status) ? r : null;
  }, { timeoutMs: 15_000, message: `run ${key} settled` });

open("a trigger with a made-up slot: ledgered skipped (forged), audited, job.skipped published, never run", async () => {
  const slot = "2026-03-02T06:07:00Z";
  await publishTrigger(slot);
  const run = await settled(`${FORGED}:nightly@${slot}`);
  assert.equal([run.status, run.reason, run.trigger, run.requested_by], ["skipped", FORGED, "schedule", "unverified"]);
  assert.match(run.error_message ?? "", /not a slot of nightly's cron "0 3 \* \* \*"/);
  assert.is(await ledger().getByKey(`nightly@${slot}`), null, "no run under the slot's own key");
  const audit = await waitFor(async () => (await o.stack.running.ctx.stores.audit.query({ tool: "test_tool", decision: "deny" })).find((a) => a.request_id === run.id), { message: "the refusal audited" });
  assert.equal([audit.channel, audit.status, audit.action, audit.params.claimed_scheduler], [TRIGGER_CHANNEL, "forbidden", "work", "attacker"]);
  await waitFor(() => o.stack.events("job.skipped").some((e) => e.data.run_id === run.id && e.data.reason === FORGED), { message: "job.skipped (forged)" });
  // Sent again (a redelivery or a repeat): still one run, one audit record.
  await o.stack.js.publish(s.jobs.trigger("nightly"), enc({ trigger: "schedule", task_id: "nightly", slot, scheduler: "attacker" }), { msgID: "again" });
  await waitFor(async () => (await o.stack.running.ctx.jsm.consumers.info(s.jobs.stream, s.jobs.consumer)).num_ack_pending === 0 && (await o.stack.running.ctx.jsm.consumers.info(s.jobs.stream, s.jobs.consumer)).num_pending === 0, { message: "trigger consumed" });
  assert.is((await ledger().list({ task_id: "nightly" })).filter((r) => r.slot === slot).length, 1);
  assert.is((await o.stack.running.ctx.stores.audit.query({ tool: "test_tool", decision: "deny" })).filter((a) => a.request_id === run.id).length, 1);
  assert.equal(o.calls, [], "the task never ran");
});

open("a real slot of the cron that is not due yet is refused too, and does not take the slot from the real trigger", async () => {
  const now = new Date();
  const tomorrow = slotIso(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 3)));
  await publishTrigger(tomorrow);
  const run = await settled(`${FORGED}:nightly@${tomorrow}`);
  assert.equal([run.status, run.reason], ["skipped", FORGED]);
  assert.match(run.error_message ?? "", /not due/);
  assert.is(await ledger().getByKey(`nightly@${tomorrow}`), null, "the real slot stays free");
  assert.equal(o.calls, []);
});

open("a due slot of the cron runs, and requested_by never comes from the message", async () => {
  const now = new Date();
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 3));
  const slot = slotIso(today.getTime() <= now.getTime() ? today : new Date(today.getTime() - 86_400_000));
  await publishTrigger(slot, "attacker");
  const run = await settled(`nightly@${slot}`);
  assert.equal([run.status, run.requested_by], ["succeeded", "scheduler:cron"]);
  assert.is(o.calls.length, 1);
  assert.is(o.calls[0]!.agent, "scheduler", "run as the task's service account");
});

open("manual runs through jobs_tool still run (their trigger names a run the gateway recorded)", async () => {
  const reply = await o.stack.call<{ run: { id: string } }>("jobs_tool", "start_task", { task_id: "nightly", run_token: "perm-manual" }, { agent: "sofiia" });
  if (!reply.ok) throw new Error(JSON.stringify(reply.error));
  const done = await waitFor(async () => {
    const r = await ledger().get(reply.result.run.id);
    return r?.status === "succeeded" ? r : null;
  }, { timeoutMs: 15_000, message: "manual run succeeded" });
  assert.equal([done.trigger, done.requested_by], ["manual", "sofiia"]);
});

locked.run();
open.run();
