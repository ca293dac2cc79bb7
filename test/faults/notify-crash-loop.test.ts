/**
 * A notifier crash loop: while a thousand incidents are opened and closed (two thousand moments)
 * through a gateway process, one of two notifier processes, picked at random among those consuming,
 * is killed with SIGKILL every two seconds and restarted at once. Afterwards every moment was
 * delivered to the webhook receiver (2,000 distinct keys, each delivered in the sent-log), nothing
 * is pending, and the only duplicates are raw HTTP requests a kill caught between the send and its
 * record in the sent-log (each duplicated key was claimed by a notifier that was then killed),
 * counted and printed. How many incidents were told
 * resolved before opened is printed; the second test pins why that happens.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setTimeout as delay } from "node:timers/promises";
import { Kvm } from "@nats-io/kv";
import { Svcm } from "@nats-io/services";
import { createLogger } from "../../src/log.js";
import { DEFAULT_RETRY } from "../../src/notify/delivery.js";
import { pendingRecord } from "../../src/notify/sent-log.js";
import type { Notification, NotificationRecord } from "../../src/notify/types.js";
import { openKvSentLog } from "../../src/stores/notify/kv.js";
import { MemorySentLog } from "../../src/stores/notify/memory.js";
import { Notifier } from "../../src/workers/notifier.js";
import { naming, SERVICE_NAME, subjects, type ToolReply } from "../../src/subjects/index.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { VALIDATORS } from "../harness/receiver-schemas.js";
import { startHttpReceiver } from "../harness/receivers.js";
import { waitFor } from "../harness/wait.js";
import { connectObserver, postgresWorkerEnv } from "../harness/workers.js";

const s = subjects(naming());
/** FAULT_SCALE=full: the 2,000 moments; CI size: 600, still a kill every 2 s throughout. */
const FULL = process.env.FAULT_SCALE === "full";
const INCIDENTS = FULL ? 1_000 : 300;
const MOMENTS = INCIDENTS * 2;
const KILL_EVERY_MS = 2_000;
/** Tool calls in flight at once. */
const IN_FLIGHT = 32;
/** Incidents opened per second: the flow lasts long enough for a dozen kills or more. */
const OPEN_RATE = FULL ? 25 : 20;
/** The notifier role's sends in flight per process (src/workers/notify-role.ts): what one kill can catch. */
const NOTIFIER_CONCURRENCY = 32;
/** What a killed notifier held comes back after the outbox consumer's ack_wait; planning a killed planner held, after the events consumer's. */
const DRAIN_TIMEOUT_MS = 120_000;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test(`notifier crash loop: kill -9 a random notifier every ${KILL_EVERY_MS / 1000} s during ${MOMENTS} moments → each delivered, duplicates only from kills`, async () => {
  const started = Date.now();
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  const hook = await startHttpReceiver({ validate: VALIDATORS.webhook });
  const config = {
    "receivers.yml": { receivers: [{ name: "oncall", webhook: { url_env: "NOTIFY_CL_HOOK" } }] },
    // group_interval 1ms: a resolved follows its opened as soon as the opened is delivered.
    "notification_routes.yml": { route: { receiver: "oncall", group_by: ["service"], group_wait: "0s", group_interval: "1ms", routes: [] } },
    "tool_limits.yml": { agents: { helion: { rate_per_minute: 600_000, burst: 10_000 } } },
  };
  const env = { ...postgresWorkerEnv(nats.url, db.url, config, "notify-crash-loop"), NOTIFY_CL_HOOK: hook.url };
  let generation = 0;
  const nodeIds = new Map<OpsbusProcess, string>();
  const killedIds = new Set<string>();
  const spawnNotifier = () => {
    const id = `notifier-${++generation}`;
    const p = spawnOpsbus(["worker", "notifier"], { ...env, NODE_ID: id, LOG_LEVEL: "info" });
    nodeIds.set(p, id);
    return p;
  };
  const notifiers: OpsbusProcess[] = [];
  const killed: OpsbusProcess[] = [];
  const obs = await connectObserver(nats.url, db.url);
  const svc = new Svcm(obs.nc).client({ strategy: "stall", maxWait: 2_000, stall: 300 });
  const gateway = spawnOpsbus(["worker", "gateway"], { ...env, NODE_ID: "gw-1" });
  try {
    await waitFor(async () => (await collect(await svc.ping(SERVICE_NAME))).length === 1, { timeoutMs: 60_000, intervalMs: 250, message: "gateway answering $SRV.PING" });
    notifiers.push(spawnNotifier(), spawnNotifier());
    await waitFor(() => notifiers.every((n) => n.output().includes("notifier started")), { timeoutMs: 60_000, intervalMs: 100, message: "both notifiers consuming" });

    const call = async (action: string, params: Record<string, unknown>) => {
      const body = JSON.stringify({ action, agent_id: "helion", params });
      const reply = (await obs.nc.request(s.tools.of("oncall_tool"), body, { timeout: 30_000 })).json<ToolReply<{ incident: { id: string } }>>();
      if (!reply.ok) throw new Error(`${action}: ${JSON.stringify(reply)}`);
      return reply.result;
    };
    const ids: string[] = [];
    let next = 0;
    let flowing = true;
    const t0 = Date.now();
    const worker = async () => {
      while (next < INCIDENTS) {
        const i = next++;
        // Paced, so the kills fall among the moments rather than after them.
        if (t0 + (i * 1000) / OPEN_RATE > Date.now()) await delay(t0 + (i * 1000) / OPEN_RATE - Date.now());
        const { incident } = await call("incident_create", { service: `svc-${i % 50}`, severity: "P2", title: `crash-loop incident ${i}` });
        ids.push(incident.id);
        await call("incident_close", { incident_id: incident.id, resolution: "recovered" });
      }
    };
    const flow = Promise.all(Array.from({ length: IN_FLIGHT }, worker)).finally(() => (flowing = false));
    // The first kill falls among deliveries, not before them.
    await hook.waitFor(50, 60_000);
    const order: string[] = [];
    // A process still starting is not consuming yet: killing it again would only keep both down.
    const consuming = () => notifiers.flatMap((n, i) => (n.output().includes("notifier started") ? [i] : []));
    while (flowing) {
      const up = await waitFor(() => (consuming().length ? consuming() : undefined), { timeoutMs: 60_000, intervalMs: 50, message: "a notifier consuming" });
      const slot = up[Math.floor(Math.random() * up.length)]!;
      const victim = notifiers[slot]!;
      order.push(`${slot + 1}@${hook.requests.length}`);
      await victim.kill9();
      killed.push(victim);
      killedIds.add(nodeIds.get(victim)!);
      notifiers[slot] = spawnNotifier();
      await Promise.race([delay(KILL_EVERY_MS), flow]);
    }
    await flow;
    const flowedIn = Date.now() - started;

    const sentLog = await openKvSentLog({ js: obs.js, jsm: obs.jsm, bucket: s.notify.sentLogBucket, replicas: 1 });
    const since = new Date(started - 60_000).toISOString();
    const records = await waitFor(
      async () => {
        const all = await sentLog.list({ since, limit: 100_000 });
        const done = all.length === MOMENTS && all.every((r) => r.status === "delivered");
        if (!done) return undefined;
        const c = await obs.jsm.consumers.info(s.notify.stream, s.notify.consumer);
        const p = await obs.jsm.consumers.info(s.events.stream, s.notify.plannerConsumer);
        return c.num_pending + c.num_ack_pending + p.num_pending + p.num_ack_pending === 0 ? all : undefined;
      },
      { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 1_000, message: `${MOMENTS} notifications delivered and both consumers settled` },
    );

    assert.is(new Set(ids).size, INCIDENTS, "one incident per create");
    const expected = new Set(records.map((r) => r.key));
    assert.is(expected.size, MOMENTS, "a sent-log record per moment");
    assert.is(records.filter((r) => r.moment === "opened").length, INCIDENTS, "an opened per incident");
    assert.is(records.filter((r) => r.moment === "resolved").length, INCIDENTS, "a resolved per incident");
    const keys = hook.requests.map((r) => String(r.headers["idempotency-key"]));
    const distinct = new Set(keys);
    assert.is(distinct.size, MOMENTS, "the receiver got every moment");
    assert.equal([...distinct].filter((k) => !expected.has(k)), [], "nothing the sent-log does not know of");
    assert.equal(hook.requests.flatMap((r) => r.problems), [], "every body is an Alertmanager webhook v4 body");
    const firstAt = new Map<string, number>();
    keys.forEach((k, i) => firstAt.has(k) || firstAt.set(k, i));
    // Counted, not asserted here: see the next test for why a kill can put a resolved first.
    const outOfOrder = records.filter((r) => r.moment === "resolved" && firstAt.get(r.key)! < firstAt.get(`${r.incident_id}.opened.oncall`)!).length;

    const listed = (await obs.nc.request(s.tools.of("notification_tool"), JSON.stringify({ action: "list", agent_id: "helion", params: { status: "pending", limit: 1000 } }), { timeout: 30_000 })).json<ToolReply<{ count: number }>>();
    assert.ok(listed.ok && listed.result.count === 0, `notification_tool.list: nothing pending (${JSON.stringify(listed).slice(0, 300)})`);

    // A duplicate needs a kill after the receiver got the request and before the sent-log recorded it:
    // the key's history (the bucket keeps 5 revisions) shows a claim by a notifier that was then killed.
    const duplicates = keys.length - distinct.size;
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    const kv = await new Kvm(obs.js).open(s.notify.sentLogBucket);
    const unexplained: string[] = [];
    for (const [key, n] of counts) {
      if (n < 2) continue;
      const claimedBy = new Set<string>();
      for await (const e of await kv.history({ key })) {
        if (e.length) claimedBy.add((e.json<NotificationRecord>().sending_by ?? "").split("/")[0]!);
      }
      if (![...claimedBy].some((id) => killedIds.has(id))) unexplained.push(`${key} ×${n} (claimed by ${[...claimedBy].join(", ")})`);
    }
    const resent = records.filter((r) => r.attempts.length > 1).length;
    console.log(
      `  ${killed.length} kills (notifier@requests so far: ${order.join(", ")}); ${MOMENTS} moments flowed in ${(flowedIn / 1000).toFixed(1)} s; ` +
        `${keys.length} requests, ${distinct.size} distinct keys → ${duplicates} duplicate HTTP deliveries; ${resent} records with >1 attempt; ${outOfOrder} incidents told resolved before opened; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
    );
    assert.ok(killed.length >= (FULL ? 8 : 6), `the crash loop ran (${killed.length} kills)`);
    assert.is(outOfOrder, 0, "no receiver told resolved before opened");
    assert.equal(unexplained, [], "every duplicate was claimed by a notifier that was then killed");
    assert.ok(duplicates <= killed.length * NOTIFIER_CONCURRENCY, `duplicates (${duplicates}) at most the sends in flight at the kills (${killed.length} × ${NOTIFIER_CONCURRENCY})`);
  } catch (err) {
    for (const p of [gateway, ...notifiers]) console.error(`--- pid ${p.child.pid}\n${p.output().slice(-2000)}`);
    throw err;
  } finally {
    await Promise.all([gateway, ...notifiers].map((p) => p.stop()));
    await obs.close();
    await hook.close();
    await nats.cleanup();
    await db.drop();
  }
});

/**
 * What the crash loop's "told resolved before opened" counts. A notifier process also plans: a kill
 * while its planner holds an incident's `incident.created` leaves that event unplanned until the
 * events consumer's ack_wait runs out, while the `incident.closed` right after it is planned by the
 * other process at once. The resolved notification finds no record of the opened in the sent-log;
 * it waits for it (waitForEarlier, src/notify/sent-log.ts: for the incident's first minute), so the
 * receiver still hears opened first.
 */
test("a resolved planned while its incident's opened is still unplanned (held by a killed planner) reaches the receiver after the opened", async () => {
  const logger = createLogger({ level: "silent" });
  const sentLog = new MemorySentLog();
  const sends: string[] = [];
  const notifier = new Notifier({
    sentLog,
    incidents: { get: async () => null, appendEvent: async () => ({ event: {} as never, replayed: false }) },
    receiver: () => ({
      integration: { kind: "webhook", send: async (n: Notification) => (sends.push(n.moment?.kind ?? "alert_group"), { outcome: "delivered" as const, status: 200 }) },
      settings: { ...DEFAULT_RETRY, maxAttempts: 5, giveUpAfterMs: 3_600_000, timeoutMs: 1_000 },
    }),
    onOutcome: async () => undefined,
    nodeId: "notifier-2/1",
    now: () => new Date("2026-03-02T10:00:03Z"),
    logger,
  });
  const incident_id = "inc_20260302_1000_abc123";
  const of = (kind: "opened" | "resolved", moment_id: string, at: string, seq: number): Notification => ({
    key: `${incident_id}.${moment_id}.oncall`, receiver: "oncall", integration: "webhook",
    moment: { kind, incident_id, moment_id, at, seq },
    incident: { id: incident_id, service: "checkout", env: "prod", severity: "P2", title: "t", status: kind === "opened" ? "open" : "closed", started_at: "2026-03-02T10:00:00Z", alert_count: 0, reopened_count: 0, labels: {} },
    alerts: [], truncated_alerts: 0, route: { path: "", group_key: "{}:{}", group_labels: {} }, created_at: at, group_interval_ms: 0, external_url: "",
  } as unknown as Notification);
  const opened = of("opened", "opened", "2026-03-02T10:00:00.000Z", 10);
  const resolved = of("resolved", "resolved-x1", "2026-03-02T10:00:01.000Z", 11);
  const h = { logger, ack: () => undefined, nak: () => undefined, working: () => undefined };
  // The other process planned the close (pending record + outbox message); the created event is held by the killed one.
  await sentLog.put(pendingRecord(resolved, new Date("2026-03-02T10:00:02Z")), 0);
  await notifier.handle(resolved, h);
  // A minute later the created event is redelivered and planned; the opened goes out; the resolved, if it waited, now too.
  const rec: NotificationRecord = pendingRecord(opened, new Date("2026-03-02T10:01:02Z"));
  await sentLog.put(rec, 0);
  await notifier.handle(opened, h);
  await notifier.handle(resolved, h);
  assert.equal(sends, ["opened", "resolved"], "the receiver is told opened, then resolved");
});

test.run();
