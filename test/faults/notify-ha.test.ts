/**
 * Notifications with every part doubled or tripled: three gateway processes and two notifier
 * processes on one nats-server, incidents in one Postgres database. A thousand incidents are
 * opened through the tool API (the services API spreads the calls over the gateways), each routed
 * to two webhook receivers. Each receiver gets exactly one `opened` per incident: as many raw
 * requests as distinct keys, every key `<incident>.opened.<receiver>`, every body Alertmanager's
 * webhook v4; the sent-log holds one delivered record with one attempt per key, and both
 * notifiers did part of the sending.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Svcm } from "@nats-io/services";
import { openKvSentLog } from "../../src/stores/notify/kv.js";
import { naming, SERVICE_NAME, subjects, type ToolReply } from "../../src/subjects/index.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { VALIDATORS } from "../harness/receiver-schemas.js";
import { notifyStallReport } from "../harness/notify-stall.js";
import { startHttpReceiver, type HttpReceiver } from "../harness/receivers.js";
import { waitFor } from "../harness/wait.js";
import { connectObserver, postgresWorkerEnv } from "../harness/workers.js";

const s = subjects(naming());
const INCIDENTS = 1_000;
const RECEIVERS = ["team-a", "team-b"] as const;
/** Tool calls in flight at once. */
const IN_FLIGHT = 40;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test(`HA: 3 gateways + 2 notifiers, ${INCIDENTS} incidents → exactly one 'opened' per incident at each of ${RECEIVERS.length} receivers`, async () => {
  const started = Date.now();
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  const hooks: HttpReceiver[] = await Promise.all(RECEIVERS.map(() => startHttpReceiver({ validate: VALIDATORS.webhook })));
  const config = {
    "receivers.yml": { receivers: RECEIVERS.map((name, i) => ({ name, webhook: { url_env: `NOTIFY_HA_HOOK_${i}` } })) },
    "notification_routes.yml": {
      route: { receiver: RECEIVERS[0], group_by: ["service"], group_wait: "0s", group_interval: "1ms", routes: [{ receiver: RECEIVERS[0], continue: true }, { receiver: RECEIVERS[1] }] },
    },
    // A thousand incidents opened by one agent within seconds: past the default per-agent bucket.
    "tool_limits.yml": { agents: { helion: { rate_per_minute: 600_000, burst: 10_000 } } },
  };
  const env: Record<string, string> = { ...postgresWorkerEnv(nats.url, db.url, config, "notify-ha"), ...Object.fromEntries(hooks.map((h, i) => [`NOTIFY_HA_HOOK_${i}`, h.url])) };
  const procs: OpsbusProcess[] = [];
  const names = new Map<OpsbusProcess, string>();
  const role = (r: string, id: string, extra: Record<string, string> = {}) => {
    const p = spawnOpsbus(["worker", r], { ...env, NODE_ID: id, ...extra });
    names.set(p, id);
    procs.push(p);
    return p;
  };
  const obs = await connectObserver(nats.url, db.url);
  const svc = new Svcm(obs.nc).client({ strategy: "stall", maxWait: 2_000, stall: 300 });
  try {
    // The first gateway provisions streams, consumers and the sent-log bucket; the rest start against them.
    role("gateway", "gw-1");
    await waitFor(async () => (await collect(await svc.ping(SERVICE_NAME))).length === 1, { timeoutMs: 60_000, intervalMs: 250, message: "gateway gw-1 answering $SRV.PING" });
    const notifiers = ["notifier-1", "notifier-2"].map((id) => role("notifier", id, { LOG_LEVEL: "info" }));
    role("gateway", "gw-2");
    role("gateway", "gw-3");
    await waitFor(async () => (await collect(await svc.ping(SERVICE_NAME))).length === 3, { timeoutMs: 60_000, intervalMs: 250, message: "three gateways answering $SRV.PING" });
    await waitFor(() => notifiers.every((n) => n.output().includes("notifier started")), { timeoutMs: 60_000, intervalMs: 100, message: "both notifiers consuming" });

    const created: string[] = [];
    let next = 0;
    const opener = async () => {
      while (next < INCIDENTS) {
        const i = next++;
        const body = JSON.stringify({ action: "incident_create", agent_id: "helion", params: { service: `svc-${i % 50}`, severity: "P2", title: `ha incident ${i}` } });
        const reply = (await obs.nc.request(s.tools.of("oncall_tool"), body, { timeout: 30_000 })).json<ToolReply<{ incident: { id: string } }>>();
        if (!reply.ok) throw new Error(`incident_create ${i}: ${JSON.stringify(reply)}`);
        created.push(reply.result.incident.id);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, opener));
    const openedIn = Date.now() - started;

    // On a stall: where each missing notification is, the consumers' counts and what the notifiers logged.
    const stalled = async (err: Error): Promise<never> => {
      const got = hooks.map((h) => new Set(h.requests.map((r) => String(r.headers["idempotency-key"]))));
      const report = await notifyStallReport({
        js: obs.js, jsm: obs.jsm, subjects: s,
        summary: RECEIVERS.map((name, i) => `${name}: ${got[i]!.size} of ${created.length} received`),
        missing: RECEIVERS.flatMap((name, i) => created.filter((id) => !got[i]!.has(`${id}.opened.${name}`)).map((id) => ({ incident_id: id, what: `opened at ${name}` }))),
        processes: procs.map((p) => ({ name: names.get(p)!, output: p.output() })),
      }).catch((e: Error) => `stall report failed: ${e.message}`);
      throw new Error(`${err.message}\n${report}`);
    };
    // Both receivers told of every incident, and nothing left in the planner's or the notifiers' hands.
    await Promise.all(hooks.map((h) => h.waitFor(INCIDENTS, 90_000))).catch(stalled);
    const settled = async (stream: string, consumer: string) => {
      const c = await obs.jsm.consumers.info(stream, consumer);
      return c.num_pending + c.num_ack_pending === 0;
    };
    await waitFor(async () => (await settled(s.events.stream, s.notify.plannerConsumer)) && (await settled(s.notify.stream, s.notify.consumer)), {
      timeoutMs: 30_000, intervalMs: 200, message: "planner and notifier consumers settled",
    }).catch(stalled);

    const ids = new Set(created);
    assert.is(ids.size, INCIDENTS, "one incident per call");
    for (const [i, h] of hooks.entries()) {
      const receiver = RECEIVERS[i]!;
      const keys = h.requests.map((r) => String(r.headers["idempotency-key"]));
      assert.is(h.requests.length, INCIDENTS, `${receiver}: raw requests`);
      assert.is(new Set(keys).size, INCIDENTS, `${receiver}: distinct keys`);
      const bad = keys.filter((k) => !k.endsWith(`.opened.${receiver}`) || !ids.has(k.slice(0, k.indexOf("."))));
      assert.equal(bad, [], `${receiver}: every key is <incident>.opened.${receiver} of a created incident`);
      assert.equal(h.requests.flatMap((r) => r.problems), [], `${receiver}: every body is an Alertmanager webhook v4 body`);
      assert.ok(h.requests.every((r) => r.status === 200), `${receiver}: every request answered 200`);
    }

    const sentLog = await openKvSentLog({ js: obs.js, jsm: obs.jsm, bucket: s.notify.sentLogBucket, replicas: 1 });
    const records = await sentLog.list({ since: new Date(started - 60_000).toISOString(), limit: 100_000 });
    assert.is(records.length, INCIDENTS * RECEIVERS.length, "one sent-log record per incident and receiver");
    assert.equal(records.filter((r) => r.status !== "delivered" || r.attempts.length !== 1).map((r) => r.key), [], "every record delivered at the first attempt");
    const byNode = new Map<string, number>();
    for (const r of records) {
      const node = r.attempts[0]!.node_id.split("/")[0]!;
      byNode.set(node, (byNode.get(node) ?? 0) + 1);
    }
    assert.equal([...byNode.keys()].sort(), ["notifier-1", "notifier-2"], "both notifiers sent");
    const pending = await obs.nc.request(s.tools.of("notification_tool"), JSON.stringify({ action: "list", agent_id: "helion", params: { status: "pending", limit: 1000 } }), { timeout: 30_000 });
    const listed = pending.json<ToolReply<{ count: number }>>();
    assert.ok(listed.ok && listed.result.count === 0, `notification_tool.list: nothing pending (${JSON.stringify(listed).slice(0, 300)})`);

    const stats = await collect(await svc.stats(SERVICE_NAME));
    const perGateway = stats.map((st) => `${st.metadata?.node_id}:${st.endpoints?.find((e) => e.name === "oncall_tool")?.num_requests ?? 0}`).sort();
    assert.is(stats.length, 3, "three gateways");
    assert.ok(stats.every((st) => (st.endpoints?.find((e) => e.name === "oncall_tool")?.num_requests ?? 0) > 0), `every gateway opened some incidents (${perGateway.join(", ")})`);

    console.log(
      `  ${INCIDENTS} incidents opened in ${(openedIn / 1000).toFixed(1)} s via ${perGateway.join(", ")}; ` +
        `sent by ${[...byNode].map(([n, c]) => `${n}:${c}`).join(", ")}; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
    );
  } catch (err) {
    for (const p of procs) console.error(`--- pid ${p.child.pid}\n${p.output().slice(-2000)}`);
    throw err;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await obs.close();
    await Promise.all(hooks.map((h) => h.close()));
    await nats.cleanup();
    await db.drop();
  }
});

test.run();
