/**
 * Health that cannot read green while work piles up (issue 11, finding 7), on a real nats-server:
 * a consumer with work and no worker pulling is `missing`, one whose ack floor and deliveries
 * stand still is `stalled`; ops.health says ok:false with the reason and /healthz answers 503.
 * A fresh full start is green, and so is a burst while it is being worked on.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { HealthReport } from "../../src/observability/health.js";
import { startRole } from "../../src/app/roles.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const stacks: Stack[] = [];
test.after(async () => {
  for (const s of stacks) await s.stop();
});

async function stack(...args: Parameters<typeof startStack>): Promise<Stack> {
  const s = await startStack(...args);
  stacks.push(s);
  return s;
}

const health = async (s: Stack) => (await s.client.request(s.running.ctx.subjects.tools.health, "", { timeout: 5000 })).json<HealthReport>();
const queue = (h: HealthReport, consumer: string) => (Array.isArray(h.queues) ? h.queues.find((q) => q.consumer === consumer) : undefined);
const alert = (i: number) => ({ service: "health", title: `t${i}`, kind: "custom", fingerprint: `health-${i}` });

test("gateway only with alerts waiting: ops.health ok:false names alerts-ingest, /healthz 503; workers started → ok", async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const s = await stack({ roles: ["gateway"], env: { HTTP_PORT: String(port), METRICS_PORT: String(metricsPort) } });
  assert.ok((await health(s)).ok, "a fresh gateway with empty queues is green");
  for (let i = 0; i < 3; i++) await s.publishAlert(alert(i));

  const h = await health(s);
  assert.is(h.ok, false);
  assert.equal(h.problems, ["alerts-ingest: 3 pending, no active pull (no alerts-in worker is pulling)"]);
  assert.equal([queue(h, "alerts-ingest")?.state, queue(h, "alerts-ingest")?.depth], ["missing", 3]);
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.is(res.status, 503);
  assert.equal(((await res.json()) as HealthReport).problems, h.problems);
  // The process's own listener (METRICS_PORT) says the same, and its gauges show it.
  assert.is((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status, 503);
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(text, /^opsbus_consumer_missing\{stream="OPS_ALERTS",consumer="alerts-ingest"\} 1$/m);
  assert.match(text, /^opsbus_consumer_pending\{stream="OPS_ALERTS",consumer="alerts-ingest"\} 3$/m);

  // An ingest worker takes the alerts; their work then waits on alerts-work for a triage worker.
  s.running.workers.push(await startRole(s.running.ctx, "alerts-in", ["gateway", "alerts-in"]));
  const next = await waitFor(async () => {
    const r = await health(s);
    return queue(r, "alerts-ingest")?.state === "ok" && queue(r, "alerts-work")?.pending === 3 ? r : null;
  }, { message: "alerts-ingest drained, 3 work items waiting" });
  assert.equal(next.problems, ["alerts-work: 3 pending, no active pull (no incident-bridge worker is pulling)"]);

  // Triage opens an incident, whose triage report is a graph run and whose opening is a moment to notify: their workers are needed too.
  const all = ["gateway", "alerts-in", "incident-bridge", "graph-runs", "notifier"];
  for (const role of ["incident-bridge", "graph-runs", "notifier"] as const) s.running.workers.push(await startRole(s.running.ctx, role, all));
  const ok = await waitFor(async () => {
    const r = await health(s);
    return r.ok ? r : null;
  }, { message: "health ok once every role with work runs" });
  assert.equal(ok.problems, []);
  const green = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.is(green.status, 200, await green.text());
});

test("stalled: work held by a claimer while more waits, ack floor still for HEALTH_STALL_SECONDS", async () => {
  const s = await stack({ roles: ["gateway"], env: { HEALTH_STALL_SECONDS: "1" } });
  for (let i = 0; i < 3; i++) {
    const r = await s.call("alert_ingest_tool", "ingest", alert(100 + i), { agent: "helion" });
    assert.ok(r.ok, JSON.stringify(r));
  }
  const claimed = await s.call<{ alerts: Array<{ alert_ref: string }> }>("alert_ingest_tool", "claim", { limit: 1, owner: "stuck-loop" }, { agent: "helion" });
  assert.ok(claimed.ok && claimed.result.alerts.length === 1, JSON.stringify(claimed));
  // Held work is not "missing" (someone has it) and not stalled yet: the claim just moved it.
  const first = queue(await health(s), "alerts-work")!;
  assert.equal([first.state, first.pending, first.ack_pending], ["ok", 2, 1]);

  const stalled = await waitFor(async () => {
    const r = await health(s);
    return queue(r, "alerts-work")?.state === "stalled" ? r : null;
  }, { message: "alerts-work reported stalled", timeoutMs: 10_000 });
  assert.is(stalled.ok, false);
  assert.match(stalled.problems.join("\n"), /^alerts-work: stalled for \d+s \(ack floor \d+, 2 pending, 1 held, no active pull; check the incident-bridge workers/m);
});

test("a fresh full start is green, and a burst being worked on never reads missing or stalled", async () => {
  const s = await stack({ roles: ["gateway", "alerts-in", "incident-bridge", "graph-runs", "jobs", "notifier"], env: { HEALTH_STALL_SECONDS: "3" } });
  const fresh = await health(s);
  assert.ok(fresh.ok, JSON.stringify(fresh.problems));
  assert.equal(Array.isArray(fresh.queues) && fresh.queues.map((q) => q.state), ["ok", "ok", "ok", "ok", "ok", "ok"]);

  const burst = 400;
  await Promise.all(Array.from({ length: burst }, (_, i) => s.publishAlert(alert(1000 + i))));
  const seen = new Set<string>();
  let busy = 0;
  await waitFor(async () => {
    const r = await health(s);
    for (const p of r.problems) seen.add(p);
    const depth = Array.isArray(r.queues) ? r.queues.reduce((n, q) => n + q.depth, 0) : 1;
    if (depth > 0) busy += 1;
    return depth === 0 && s.running.ctx.metrics!.alertLoopWindow.size >= burst;
  }, { message: `${burst} alerts through ingest and triage`, timeoutMs: 60_000, intervalMs: 50 });
  assert.equal([...seen], [], "no problem reported while the burst was worked on");
  assert.ok(busy > 0, "health was asked while work was pending");
});

test.run();
