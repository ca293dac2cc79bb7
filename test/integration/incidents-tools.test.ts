/**
 * The incident tools through the gateway on a suite-owned nats-server and Postgres database:
 * RBAC per the incidents runbook, artifact refusals, postmortem draft runs, the weekly digest.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GraphRun, IncidentEvent, IncidentRecord } from "../../src/incidents/store.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startStack, testClock, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const db = await createTestDatabase();
const clock = testClock();
// As ops/nats/*.conf: max_payload 4 MB, so a 2 MB artifact fits in a tool request.
const conf = join(mkdtempSync(join(tmpdir(), "opsbus-natsconf-")), "nats.conf");
writeFileSync(conf, "max_payload: 4MB\n");
const nats = await startNatsServer({ args: ["-c", conf] });
const s: Stack = await startStack({
  nats,
  roles: ["gateway", "graph-runs"],
  now: clock.now,
  env: { ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", DATABASE_URL: db.url },
  // Room for a request carrying a just-over-2 MB artifact, so the artifact rule (not the gateway's) answers.
  policies: { toolLimits: { tools: { oncall_tool: { max_payload_bytes: 4 * 1024 * 1024 } } } },
});
test.after(async () => {
  await s.stop();
  await nats.cleanup();
  await db.drop();
});

function ok<T>(r: ToolReply<T>): T {
  assert.ok(r.ok, JSON.stringify(r).slice(0, 500));
  return (r as { ok: true; result: T }).result;
}
async function create(over: Record<string, unknown> = {}, agent = "sofiia"): Promise<IncidentRecord> {
  const params = { service: "gateway", severity: "P1", title: "Gateway 5xx rate >5%", env: "prod", ...over };
  return ok(await s.call<{ incident: IncidentRecord }>("oncall_tool", "incident_create", params, { agent })).incident;
}

test("RBAC per the runbook: sofiia and helion full CRUD; monitor, aistalk and others read only", async () => {
  const inc = await create();
  const alertRef = ok(await s.call<{ alert_ref: string }>("alert_ingest_tool", "ingest", { service: "gateway", title: "rbac probe" }, { agent: "monitor" })).alert_ref;
  const calls: Array<[string, Record<string, unknown>, "read" | "write"]> = [
    ["incident_get", { incident_id: inc.id }, "read"],
    ["incident_list", { status: "open" }, "read"],
    ["incident_followups_summary", { service: "gateway" }, "read"],
    ["incident_create", { service: "gateway", severity: "P3", title: "rbac", env: "prod" }, "write"],
    ["incident_append_event", { incident_id: inc.id, message: "looking" }, "write"],
    ["incident_attach_artifact", { incident_id: inc.id, name: "notes.txt", content: "x" }, "write"],
    ["alert_to_incident", { alert_ref: alertRef }, "write"],
    ["incident_close", { incident_id: inc.id, resolution: "done" }, "write"],
  ];
  const full = new Set(["sofiia", "helion"]);
  for (const agent of ["monitor", "aistalk", "someone-else", "helion", "sofiia"]) {
    for (const [action, params, kind] of calls) {
      const r = await s.call("oncall_tool", action, params, { agent });
      const allowed = kind === "read" || full.has(agent);
      if (allowed) assert.ok(r.ok, `${agent} ${action}: ${JSON.stringify(r)}`);
      else assert.is(!r.ok && r.error.code, "forbidden", `${agent} ${action} must be forbidden`);
    }
  }
  // The audit writer buffers: wait for its flush rather than racing it.
  await waitFor(async () => (await s.running.ctx.stores.audit.query({ tool: "oncall_tool", decision: "deny", limit: 1000 })).length === 3 * 5, {
    message: "every denied call audited (15)",
  });
});

test("artifacts: only json/md/txt, at most 2 MB, no paths in names; a good one lands under the incident's directory", async () => {
  const inc = await create({ title: "artifact refusals" });
  const attach = (name: string, content: string) => s.call("oncall_tool", "incident_attach_artifact", { incident_id: inc.id, name, content }, { agent: "helion" });
  const code = (r: ToolReply) => (r.ok ? "ok" : r.error.code);
  assert.is(code(await attach("run.sh", "echo hi")), "invalid_request");
  assert.is(code(await attach("../escape.md", "# x")), "invalid_request");
  assert.is(code(await attach("bad.json", "{not json")), "invalid_request");
  assert.is(code(await attach("huge.txt", "x".repeat(2 * 1024 * 1024 + 1))), "payload_too_large");
  assert.is(code(await attach("exactly-2mb.txt", "x".repeat(2 * 1024 * 1024))), "ok");
  const good = ok(await s.call<{ artifact: { path: string; bytes: number } }>("oncall_tool", "incident_attach_artifact", { incident_id: inc.id, name: "timeline.md", content: "# Timeline\n" }, { agent: "helion" }));
  assert.is(readFileSync(join(s.dataDir, "incidents", inc.id, "timeline.md"), "utf8"), "# Timeline\n");
  assert.is(good.artifact.bytes, 11);
  const names = (await s.running.ctx.stores.incidents.artifacts(inc.id)).map((a) => a.name).sort();
  assert.equal(names, ["exactly-2mb.txt", "timeline.md"], "refused artifacts leave nothing behind");
});

test("graphs_tool: a postmortem draft run answers at once, then succeeds with every timeline event in the draft", async () => {
  const inc = await create({ title: "Checkout errors after deploy", service: "checkout" });
  for (const message of ["paged on-call", "rolled back 1.4.2", "error rate back to baseline"]) {
    ok(await s.call("oncall_tool", "incident_append_event", { incident_id: inc.id, message }, { agent: "helion" }));
  }
  ok(await s.call("oncall_tool", "incident_append_event", {
    incident_id: inc.id, type: "followup", message: "add a canary stage",
    meta: { title: "canary stage for checkout", owner: "helion", due_date: "2026-12-01" },
  }, { agent: "helion" }));
  ok(await s.call("oncall_tool", "incident_close", { incident_id: inc.id, resolution: "rollback" }, { agent: "sofiia" }));
  const before: IncidentEvent[] = await s.running.ctx.stores.incidents.events({ incident_ids: [inc.id] });

  const queued = ok(await s.call<{ run_id: string; status: string }>("graphs_tool", "run", { graph: "postmortem_draft", incident_id: inc.id }, { agent: "sofiia" }));
  assert.is(queued.status, "queued");
  const run = await waitFor(async () => {
    const r = ok(await s.call<GraphRun>("graphs_tool", "get_run", { run_id: queued.run_id }, { agent: "sofiia" }));
    return r.status === "succeeded" || r.status === "failed" ? r : null;
  }, { message: "postmortem run finished" });
  assert.is(run.status, "succeeded", run.error);
  assert.equal(run.artifacts.sort(), ["postmortem_draft.json", "postmortem_draft.md"]);
  const md = readFileSync(join(s.dataDir, "incidents", inc.id, "postmortem_draft.md"), "utf8");
  const json = JSON.parse(readFileSync(join(s.dataDir, "incidents", inc.id, "postmortem_draft.json"), "utf8")) as { timeline: Array<{ id?: string; message: string }> };
  for (const e of before) assert.ok(md.includes(e.message.slice(0, 60)), `draft markdown has "${e.message}"`);
  assert.is(json.timeline.length, before.length, "the json timeline has every event");
  // Published after the run is marked succeeded, so it may trail what get_run just said.
  await waitFor(() => s.events("postmortem.drafted").some((e) => e.data.run_id === run.id), { message: "postmortem.drafted" });

  const denied = await s.call("graphs_tool", "run", { graph: "incident_triage", incident_id: inc.id }, { agent: "aistalk" });
  assert.is(!denied.ok && denied.error.code, "forbidden");
  const missing = await s.call("graphs_tool", "run", { graph: "incident_triage", incident_id: "inc_20260101_0000_abcdef" }, { agent: "sofiia" });
  assert.is(!missing.ok && missing.error.code, "not_found");
});

test("a graph run that fails is retried from its work item, not lost; get_run shows the error meanwhile", async () => {
  const inc = await create({ title: "retry me", service: "retry" });
  // A file where the incident's artifact directory should be: the first attempt cannot write.
  const blocker = join(s.dataDir, "incidents", inc.id);
  mkdirSync(join(s.dataDir, "incidents"), { recursive: true });
  writeFileSync(blocker, "in the way");
  const { run_id } = ok(await s.call<{ run_id: string }>("graphs_tool", "run", { graph: "incident_triage", incident_id: inc.id }, { agent: "helion" }));
  const failing = await waitFor(async () => {
    const r = ok(await s.call<GraphRun>("graphs_tool", "get_run", { run_id }, { agent: "helion" }));
    return r.error ? r : null;
  }, { message: "first attempt failed with an error" });
  assert.is(failing.status, "running", "failed attempts are retried, so the run is still running");
  rmSync(blocker);
  const done = await waitFor(async () => {
    const r = ok(await s.call<GraphRun>("graphs_tool", "get_run", { run_id }, { agent: "helion" }));
    return r.status === "succeeded" ? r : null;
  }, { timeoutMs: 15_000, message: "the retry succeeded" });
  assert.ok(done.attempts >= 1, "attempts counts the failed (deterministic) attempts");
  assert.ok(existsSync(join(blocker, "triage_report.md")));
});

test("follow-ups: an overdue one shows in the summary by severity until it is done", async () => {
  const inc = await create({ service: "fu-svc", severity: "P1", title: "follow-up tracking" });
  const add = ok(await s.call<{ event: IncidentEvent }>("oncall_tool", "incident_append_event", {
    incident_id: inc.id, type: "followup", message: "rotate the key",
    meta: { title: "rotate the leaked key", owner: "helion", due_date: "2026-01-15" },
  }, { agent: "helion" }));
  type Summary = { open_count: number; overdue_count: number; by_severity: Record<string, { open: number; overdue: number }>; overdue: Array<{ incident_id: string; title: string }> };
  const before = ok(await s.call<Summary>("oncall_tool", "incident_followups_summary", { service: "fu-svc", env: "prod", window_days: 30 }, { agent: "aistalk" }));
  assert.equal([before.open_count, before.overdue_count, before.by_severity.P1?.overdue], [1, 1, 1]);
  assert.equal(before.overdue.map((o) => [o.incident_id, o.title]), [[inc.id, "rotate the leaked key"]]);
  ok(await s.call("oncall_tool", "incident_append_event", {
    incident_id: inc.id, type: "followup", message: "rotated",
    meta: { followup_id: add.event.meta.followup_id, status: "done" },
  }, { agent: "helion" }));
  const after = ok(await s.call<Summary>("oncall_tool", "incident_followups_summary", { service: "fu-svc", env: "prod", window_days: 30 }, { agent: "aistalk" }));
  assert.equal([after.open_count, after.overdue_count], [0, 0]);
});

test("weekly_digest: a seeded ISO week's counts, written as incidents/weekly/YYYY-WW.{json,md}", async () => {
  // Seed 2026-W45 (Mon 2 Nov – Sun 8 Nov 2026): three incidents opened, one closed 90 min after it started.
  const weekStart = Date.parse("2026-11-02T00:00:00Z");
  const shiftTo = (iso: string) => clock.advance((Date.parse(iso) - clock.now().getTime()) / 60_000);
  shiftTo("2026-11-03T10:00:00Z");
  const a = await create({ service: "digest-api", severity: "P1", title: "api down", started_at: "2026-11-03T10:00:00Z" });
  await create({ service: "digest-api", severity: "P1", title: "api slow", started_at: "2026-11-04T09:00:00Z" });
  await create({ service: "digest-db", severity: "P2", title: "replica lag", started_at: "2026-11-06T22:00:00Z" });
  shiftTo("2026-11-03T11:30:00Z");
  ok(await s.call("oncall_tool", "incident_close", { incident_id: a.id, resolution: "failover" }, { agent: "sofiia" }));
  shiftTo("2026-11-22T08:00:00Z");
  assert.ok(weekStart < clock.now().getTime());

  type Digest = { week: string; totals: { opened: number; closed: number; still_open: number; by_severity: Record<string, number>; by_service: Record<string, number>; mttr_minutes: number | null }; files: { json: string; md: string } };
  const d = ok(await s.call<Digest>("incident_intelligence_tool", "weekly_digest", { week: "2026-W45" }, { agent: "sofiia" }));
  assert.is(d.week, "2026-45");
  const own = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith("digest-")));
  assert.equal(own(d.totals.by_service), { "digest-api": 2, "digest-db": 1 });
  assert.is(d.totals.opened, 3);
  assert.is(d.totals.closed, 1);
  assert.is(d.totals.still_open, 2);
  assert.equal([d.totals.by_severity.P1, d.totals.by_severity.P2], [2, 1]);
  assert.is(d.totals.mttr_minutes, 90);
  assert.is(d.files.json, join(s.dataDir, "reports", "incidents", "weekly", "2026-45.json"));
  assert.ok(existsSync(d.files.md));
  assert.is(JSON.parse(readFileSync(d.files.json, "utf8")).totals.opened, 3);
  const forbidden = await s.call("incident_intelligence_tool", "weekly_digest", { week: "2026-W45" }, { agent: "aistalk" });
  assert.is(!forbidden.ok && forbidden.error.code, "forbidden");
});

test.run();
