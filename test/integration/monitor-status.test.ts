/** ops.monitor.status is computed from real activity; the nodes poller reports each node online or offline, with the reason. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { NodesStatusData } from "../../src/observability/monitor/nodes.js";
import type { MonitorStatus } from "../../src/observability/monitor/status.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let base: string;
let nats: NatsServerHandle;

test.before(async () => {
  const [port, closedPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  nats = await startNatsServer();
  s = await startStack({
    nats,
    roles: ["gateway", "alerts-in", "incident-bridge"],
    env: { HTTP_PORT: String(port), NODES_POLL_INTERVAL_SEC: "0.3" },
    policies: {
      nodes: {
        nodes: {
          GHOST: { node_id: "ghost", timeout_ms: 500 },
          SLOW: { node_id: "slow", timeout_ms: 300 },
          FAKE: { node_id: "fake", timeout_ms: 500 },
          WEB: { status_url: `http://127.0.0.1:${closedPort}/monitor/status`, timeout_ms: 1000 },
          SELF_HTTP: { node_id: "node1", status_url: `${base}/monitor/status`, timeout_ms: 3000 },
          // Another NATS system: here the node's own server over a second connection, and a dead one.
          REMOTE: { node_id: "node1", nats_url: nats.url, timeout_ms: 3000 },
          DEAD_NATS: { node_id: "node9", nats_url: `nats://127.0.0.1:${closedPort}`, timeout_ms: 500 },
        },
      },
    },
  });
});
test.after(async () => {
  await s.stop();
  await nats.cleanup();
});

const subjects = () => s.running.ctx.subjects;
const overNats = async (subject = subjects().tools.monitorStatus) => (await s.client.request(subject, "", { timeout: 5000 })).json<MonitorStatus>();

test("a quiet node: online, fresh heartbeat, real round trips, no samples yet, every backend named", async () => {
  const st = await overNats();
  assert.equal([st.online, st.node_id, st.env], [true, "node1", "dev"]);
  assert.ok(st.heartbeat_age_s <= 5, `heartbeat_age_s ${st.heartbeat_age_s}`);
  assert.ok(st.router.ok && st.router.latency_ms >= 0, JSON.stringify(st.router));
  assert.ok(st.gateway.ok && st.gateway.latency_ms >= 0, JSON.stringify(st.gateway));
  assert.equal(st.alerts_loop_slo, { p95_ms: null, samples: 0, failed_rate: null });
  assert.is(st.open_incidents, 0);
  assert.equal(Object.keys(st.backends).sort(), ["alerts", "audit", "backlog", "incidents", "jobs", "risk"]);
  assert.is(st.backends.alerts, "MemoryAlertStore");
  assert.equal(st.last_artifacts, { risk_digest: null, platform_digest: null, backlog: null });
  assert.match(st.config_digest, /^sha256:[0-9a-f]{16}$/);
  // The node-specific subject answers the same node.
  assert.is((await overNats(subjects().tools.monitorStatusOf("node1"))).node_id, "node1");
});

test("alerts through triage: p95 > 0, failed_rate 0, open_incidents matches the incident store; same over NATS, HTTP and monitor_tool", async () => {
  for (const service of ["api", "db", "cache"]) await s.publishAlert({ service, title: `${service} down`, kind: "crash", fingerprint: `fp-${service}` });
  const st = await waitFor(async () => {
    const x = await overNats();
    return x.alerts_loop_slo.samples === 3 ? x : null;
  }, { message: "3 alert loops in the status" });
  assert.ok(st.alerts_loop_slo.p95_ms! > 0, `p95 ${st.alerts_loop_slo.p95_ms}`);
  assert.is(st.alerts_loop_slo.failed_rate, 0);
  const open = await s.running.ctx.stores.incidents.list({ status: ["open", "mitigating"], limit: 1000 });
  assert.is(open.length, 3);
  assert.is(st.open_incidents, open.length);

  const overHttp = (await (await fetch(`${base}/monitor/status`)).json()) as MonitorStatus;
  const tool = await s.call<MonitorStatus>("monitor_tool", "status", {}, { agent: "helion" });
  assert.ok(tool.ok, JSON.stringify(tool));
  for (const other of [overHttp, (tool as { result: MonitorStatus }).result]) {
    assert.equal([other.node_id, other.open_incidents, other.alerts_loop_slo.samples, other.config_digest], [st.node_id, 3, 3, st.config_digest]);
  }
  // monitor_tool is behind RBAC like every tool: the default role has no tools.monitor.read.
  const denied: ToolReply = await s.call("monitor_tool", "status", {}, { agent: "stranger" });
  assert.ok(!denied.ok && denied.error.code === "forbidden", JSON.stringify(denied));
});

test("last_artifacts names the newest risk digest, platform digest and backlog generation", async () => {
  const risk = await s.call<{ date: string }>("risk_history_tool", "digest", { date: "2026-02-24" }, { agent: "sofiia" });
  assert.ok(risk.ok, JSON.stringify(risk));
  const platform = await s.call<{ week: string }>("architecture_pressure_tool", "digest", { week: "2026-W08" }, { agent: "sofiia" });
  assert.ok(platform.ok, JSON.stringify(platform));
  const backlog = await s.call("backlog_tool", "auto_generate_weekly", { week: "2026-W08" }, { agent: "sofiia" });
  assert.ok(backlog.ok, JSON.stringify(backlog));
  const st = await waitFor(async () => {
    const x = await overNats();
    return x.last_artifacts.backlog ? x : null;
  }, { message: "the backlog generation in last_artifacts" });
  assert.is(st.last_artifacts.risk_digest, "2026-02-24");
  assert.is(st.last_artifacts.platform_digest, "2026-W08");
  assert.is(st.last_artifacts.backlog, new Date().toISOString().slice(0, 10));
});

test("the nodes poller publishes ops.events.nodes.status: online nodes, and offline ones with the reason", async () => {
  // SLOW hears the request and never answers: a timeout, not "no responders".
  const slow = s.client.subscribe(subjects().tools.monitorStatusOf("slow"), { callback: () => undefined });
  const fake = s.client.subscribe(subjects().tools.monitorStatusOf("fake"), {
    callback: (_e, m) => void m.respond(JSON.stringify({ online: true, node_id: "fake", heartbeat_age_s: 1 })),
  });
  await s.client.flush();
  const byKey = (e: { data: Record<string, unknown> }) => new Map((e.data as unknown as NodesStatusData).nodes.map((n) => [n.key, n]));
  const ev = await waitFor(() => s.events("nodes.status").map(byKey).find((m) => m.get("FAKE")?.online && m.get("SLOW")?.reason === "timeout"), {
    message: "a nodes.status event after the fake node answered",
  });
  assert.equal([ev.get("NODE1")?.online, ev.get("NODE1")?.via], [true, "nats"]);
  assert.equal([ev.get("SELF_HTTP")?.online, ev.get("SELF_HTTP")?.via], [true, "http"]);
  assert.equal([ev.get("GHOST")?.online, ev.get("GHOST")?.reason], [false, "no responders"]);
  assert.equal([ev.get("WEB")?.online, ev.get("WEB")?.reason], [false, "connection refused"]);
  assert.equal([ev.get("REMOTE")?.online, ev.get("REMOTE")?.target], [true, `${nats.url} ${subjects().tools.monitorStatusOf("node1")}`]);
  assert.is(ev.get("DEAD_NATS")?.online, false);
  assert.match(ev.get("DEAD_NATS")?.reason ?? "", /^connect: /);
  assert.is(ev.get("SLOW")?.online, false);

  // The fake node goes away: the next polls report it offline.
  fake.unsubscribe();
  slow.unsubscribe();
  await s.client.flush();
  const after = await waitFor(() => s.events("nodes.status").map(byKey).find((m) => m.get("FAKE")?.online === false), { message: "FAKE offline" });
  assert.is(after.get("FAKE")?.reason, "no responders");
  const last = s.events("nodes.status").at(-1)!.data as unknown as NodesStatusData;
  assert.is(last.online + last.offline, 8);
});

test("alerts settled by claim + ack (no triage worker) count in the alert loop too", async () => {
  const own = await startStack({ roles: ["gateway", "alerts-in"] });
  try {
    await own.publishAlert({ service: "queue", title: "backlog growing", kind: "resource", fingerprint: "fp-claimed" });
    const claimed = await waitFor(async () => {
      const r = await own.call<{ alerts: Array<{ alert_ref: string; claim_id: string }> }>("alert_ingest_tool", "claim", { limit: 1, owner: "oncall" }, { agent: "helion" });
      return r.ok && r.result.alerts[0] ? r.result.alerts[0] : null;
    }, { message: "the alert claimed" });
    const acked = await own.call("alert_ingest_tool", "ack", { alert_ref: claimed.alert_ref, claim_id: claimed.claim_id, owner: "oncall" }, { agent: "helion" });
    assert.ok(acked.ok, JSON.stringify(acked));
    const st = (await own.client.request(own.running.ctx.subjects.tools.monitorStatus, "", { timeout: 5000 })).json<MonitorStatus>();
    assert.is(st.alerts_loop_slo.samples, 1);
    assert.ok(st.alerts_loop_slo.p95_ms !== null && st.alerts_loop_slo.p95_ms >= 0, `p95 ${st.alerts_loop_slo.p95_ms}`);
  } finally {
    await own.stop();
  }
});

test.run();
