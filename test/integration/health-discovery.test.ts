/** ops.health reports queue depth per consumer; $SRV.INFO describes every tool action with its JSON Schema. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { actionsFromMetadata } from "../../src/gateway/jsonSchema.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
test.before(async () => {
  s = await startStack();
});
test.after(async () => s.stop());

type Health = {
  ok: boolean;
  backends: Record<string, string>;
  queues: Array<{ consumer: string; role: string; pending: number; ack_pending: number; depth: number; waiting: number; state: string }>;
  problems: string[];
};
const health = async () => (await s.client.request(s.running.ctx.subjects.tools.health, "", { timeout: 5000 })).json<Health>();

test("ops.health: queue depth of the work consumer follows unclaimed and claimed alerts", async () => {
  const before = await health();
  assert.ok(before.ok);
  assert.equal(before.queues.map((q) => q.consumer).sort(), ["alerts-ingest", "alerts-work", "graph-runs", "jobs", "notifier", "notify-planner"]);
  assert.equal(before.queues.map((q) => [q.consumer, q.role]), [["alerts-ingest", "alerts-in"], ["alerts-work", "incident-bridge"], ["graph-runs", "graph-runs"], ["jobs", "jobs"], ["notifier", "notifier"], ["notify-planner", "notifier"]]);
  assert.ok(before.queues.find((q) => q.consumer === "alerts-ingest")!.waiting >= 1, "the running ingest worker has a pull request open");
  assert.equal(before.backends, { alerts: "MemoryAlertStore", audit: "MemoryAuditStore" });
  for (let i = 0; i < 3; i++) await s.publishAlert({ service: "health", title: `h${i}`, kind: "custom", fingerprint: `h${i}` });
  const work = await waitFor(async () => (await health()).queues.find((q) => q.consumer === "alerts-work" && q.pending === 3), { message: "3 pending work items" });
  assert.is(work.depth, 3);
  // No triage worker in this stack: the work waits with nobody pulling, and health says so.
  assert.is(work.state, "missing");
  assert.not.ok((await health()).ok);
  await s.call("alert_ingest_tool", "claim", { limit: 2 }, { agent: "helion" });
  const after = (await health()).queues.find((q) => q.consumer === "alerts-work")!;
  assert.equal([after.pending, after.ack_pending, after.depth], [1, 2, 3]);
  assert.is(after.state, "ok", "held by a claimer within its lock: neither missing nor (yet) stalled");
});

test("$SRV.INFO describes alert_ingest_tool's actions, with the alert schema for ingest", async () => {
  const info = (await s.client.request("$SRV.INFO.opsbus-tools", "", { timeout: 5000 })).json<{ endpoints: Array<{ name: string; subject: string; metadata: Record<string, string> }> }>();
  const ep = info.endpoints.find((e) => e.name === "alert_ingest_tool")!;
  assert.is(ep.subject, s.running.ctx.subjects.tools.of("alert_ingest_tool"));
  // Plain values, read as they are: no JSON inside a string but each action's JSON Schema.
  assert.equal(ep.metadata.actions!.split(",").sort(), ["ack", "claim", "dashboard", "fail", "ingest", "list", "resolve", "retention"]);
  assert.is(ep.metadata["claim.entitlement"], "tools.alerts.claim");
  assert.match(ep.metadata["ingest.param.severity"]!, /^one of P0\|P1\|P2\|P3\|critical\|high\|warning\|info; default "P2" — /);
  const actions = actionsFromMetadata(ep.metadata);
  assert.equal((actions.ingest!.params.properties as Record<string, { enum?: string[] }>).severity?.enum?.slice(0, 4), ["P0", "P1", "P2", "P3"]);
  // title is required of a firing only (a resolve may name just the fingerprint): the schema lists it, the ingest checks it.
  assert.equal(actions.ingest!.params.required?.sort(), ["service"]);
  assert.ok("title" in (actions.ingest!.params.properties as Record<string, unknown>));
});

test.run();
