import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventPublisher } from "../../src/nats/events.js";
import type { IncidentEvent, IncidentRecord } from "../../src/incidents/store.js";
import { MAX_ARTIFACT_BYTES } from "../../src/incidents/store.js";
import { subjects } from "../../src/subjects/index.js";
import { createOncallTool, type OncallToolDeps } from "../../src/tools/oncall-tool.js";
import { type Caller } from "../../src/tools/types.js";
import { capturedLogger, errorOf, resultOf, toolCaller } from "./gateway-fixtures.js";
import { MemoryIncidentStore, tmpDir } from "./incident-fixtures.js";

const NOW = Date.parse("2026-03-10T12:00:00.000Z");

function setup() {
  const store = new MemoryIncidentStore();
  const published: Array<{ subject: string; msgID?: string; data: Record<string, unknown> }> = [];
  const js = {
    failing: false,
    async publish(subject: string, body: Uint8Array, opts?: { msgID?: string }) {
      if (js.failing) throw new Error("nats down");
      published.push({ subject, ...(opts?.msgID ? { msgID: opts.msgID } : {}), data: JSON.parse(new TextDecoder().decode(body)).data });
      return { seq: published.length, duplicate: false, stream: "OPS_EVENTS" };
    },
  };
  const bridgeCalls: unknown[] = [];
  const artifactsDir = tmpDir("artifacts");
  const clock = { ms: NOW };
  const oncallDeps: OncallToolDeps = {
    incidents: store,
    artifactsDir,
    events: new EventPublisher(js as unknown as JetStreamClient, subjects(), "n1", () => new Date(clock.ms)),
    async alertToIncident(alertRef, opts, by) {
      bridgeCalls.push({ alertRef, opts, by });
      const incident = await store.create({ service: "gateway", env: "prod", severity: opts.severity_cap ?? "P1", title: "from alert", created_by: by }, new Date(clock.ms));
      return { incident_id: incident.id, action: "created", event_id: "evt_x", replayed: false, incident };
    },
  };
  const tool = createOncallTool(oncallDeps);
  const { call, lines } = toolCaller(tool, () => new Date(clock.ms));
  const create = async (agent = "helion", extra: Record<string, unknown> = {}) =>
    resultOf<{ incident: IncidentRecord }>(await call(agent, "incident_create", { service: "gateway", severity: "P1", title: "Gateway 5xx rate >5%", env: "prod", ...extra })).incident;
  return { store, published, js, bridgeCalls, artifactsDir, clock, tool, call, create, lines };
}

test("create, get, list; created_by is the caller; incident.created published with the incident id", async () => {
  const { call, create, published } = setup();
  const inc = await create("sofiia", { started_at: "2026-03-10T11:00:00Z", labels: { owner: "edge" } });
  assert.match(inc.id, /^inc_20260310_1200_[0-9a-f]+$/);
  assert.equal([inc.created_by, inc.status, inc.started_at, inc.labels.owner], ["sofiia", "open", "2026-03-10T11:00:00.000Z", "edge"]);
  assert.equal(published.map((p) => [p.subject, p.msgID]), [["ops.events.incident.created", `incident.created:${inc.id}`]]);
  const got = resultOf<{ incident: IncidentRecord; events: IncidentEvent[]; artifacts: unknown[] }>(await call("aistalk", "incident_get", { incident_id: inc.id }));
  assert.equal([got.incident.id, got.events.map((e) => e.type), got.artifacts], [inc.id, ["created"], []]);
  const lean = resultOf<Record<string, unknown>>(await call("aistalk", "incident_get", { incident_id: inc.id, include_events: false }));
  assert.not.ok("events" in lean);
  await create("helion", { service: "billing", severity: "P3" });
  const list = resultOf<{ incidents: IncidentRecord[] }>(await call("monitor", "incident_list", { status: "open", service: "gateway" }));
  assert.equal(list.incidents.map((i) => i.id), [inc.id]);
  const bySev = resultOf<{ count: number }>(await call("monitor", "incident_list", { severity: "P1,P3", limit: 1000 }));
  assert.is(bySev.count, 2);
  assert.is(errorOf(await call("monitor", "incident_list", { limit: 1001 })).code, "invalid_request");
  assert.is(errorOf(await call("helion", "incident_create", { service: "x", severity: "P5", title: "t" })).code, "invalid_request");
});

test("unknown ids are not_found, malformed ids invalid_request", async () => {
  const { call } = setup();
  const ghost = "inc_20260310_1200_000000";
  for (const [action, params] of [
    ["incident_get", {}],
    ["incident_append_event", { message: "hi" }],
    ["incident_close", { resolution: "x" }],
    ["incident_attach_artifact", { name: "a.md", content: "x" }],
  ] as const) {
    assert.is(errorOf(await call("helion", action, { incident_id: ghost, ...params })).code, "not_found", action);
    assert.is(errorOf(await call("helion", action, { incident_id: "inc_1", ...params })).code, "invalid_request", action);
  }
});

test("append_event: notes, unknown types kept as notes, follow-ups opened and updated, status changes", async () => {
  const { call, create, published, store } = setup();
  const inc = await create();
  const note = resultOf<{ event: IncidentEvent }>(await call("helion", "incident_append_event", { incident_id: inc.id, message: "looking" }));
  assert.equal([note.event.type, note.event.author], ["note", "helion"]);
  assert.ok(published.some((p) => p.msgID === `incident.updated:${note.event.id}`));
  const odd = resultOf<{ event: IncidentEvent }>(await call("helion", "incident_append_event", { incident_id: inc.id, type: "escalated", message: "manual" }));
  assert.equal([odd.event.type, odd.event.meta.type], ["note", "escalated"]);
  assert.is(errorOf(await call("helion", "incident_append_event", { incident_id: inc.id, message: "  " })).code, "invalid_request");

  const fu = resultOf<{ event: IncidentEvent }>(
    await call("helion", "incident_append_event", { incident_id: inc.id, type: "followup", meta: { title: "Add 5xx alert", owner: "sofiia", due_date: "2026-03-09" } }),
  );
  assert.equal([fu.event.type, fu.event.meta.status], ["followup", "open"]);
  const fid = fu.event.meta.followup_id as string;
  assert.match(fid, /^fu_/);
  const bad = errorOf(await call("helion", "incident_append_event", { incident_id: inc.id, type: "followup", meta: { title: "x" } }));
  assert.equal([bad.code, /owner/.test(bad.message), /due_date/.test(bad.message)], ["invalid_request", true, true]);
  const counts = async () => {
    const s = resultOf<{ open_count: number; overdue_count: number; service: string }>(await call("monitor", "incident_followups_summary", { service: "gateway" }));
    return [s.service, s.open_count, s.overdue_count];
  };
  assert.equal(await counts(), ["gateway", 1, 1]);
  await call("helion", "incident_append_event", { incident_id: inc.id, type: "followup", meta: { followup_id: fid, status: "done" } });
  assert.equal(await counts(), ["gateway", 0, 0]);
  const got = resultOf<{ followups: Array<{ status: string }> }>(await call("helion", "incident_get", { incident_id: inc.id }));
  assert.equal(got.followups.map((f) => f.status), ["done"]);

  const mit = resultOf<{ incident: IncidentRecord; changed: boolean }>(await call("helion", "incident_append_event", { incident_id: inc.id, type: "status_change", message: "mitigating", meta: { status: "mitigating" } }));
  assert.equal([mit.incident.status, mit.changed], ["mitigating", true]);
  assert.is(errorOf(await call("helion", "incident_append_event", { incident_id: inc.id, type: "status_change", meta: { status: "done" } })).code, "invalid_request");
  assert.is((await store.events({ incident_ids: [inc.id], type: "status_change" })).length, 1);
});

test("attach_artifact: utf8 and base64; type, name and size refusals", async () => {
  const { call, create, artifactsDir, tool } = setup();
  const inc = await create();
  const md = resultOf<{ artifact: { path: string; bytes: number; format: string } }>(await call("helion", "incident_attach_artifact", { incident_id: inc.id, name: "notes.md", content: "# notes\n" }));
  assert.equal([md.artifact.path, md.artifact.format, md.artifact.bytes], [`${inc.id}/notes.md`, "md", 8]);
  assert.is(readFileSync(join(artifactsDir, inc.id, "notes.md"), "utf8"), "# notes\n");
  const b64 = Buffer.from('{"ok":true}').toString("base64");
  resultOf(await call("helion", "incident_attach_artifact", { incident_id: inc.id, name: "data.json", content: b64, encoding: "base64" }));
  assert.equal(JSON.parse(readFileSync(join(artifactsDir, inc.id, "data.json"), "utf8")), { ok: true });
  const got = resultOf<{ artifacts: Array<{ name: string }>; events: IncidentEvent[] }>(await call("aistalk", "incident_get", { incident_id: inc.id }));
  assert.equal(got.artifacts.map((a) => a.name).sort(), ["data.json", "notes.md"]);
  assert.is(got.events.filter((e) => e.type === "artifact").length, 2);

  const refused = errorOf(await call("helion", "incident_attach_artifact", { incident_id: inc.id, name: "run.sh", content: "rm -rf /" }));
  assert.equal([refused.code, refused.message.includes("json, md, txt")], ["invalid_request", true]);
  assert.is(errorOf(await call("helion", "incident_attach_artifact", { incident_id: inc.id, name: "../x.md", content: "x" })).code, "invalid_request");
  assert.is(errorOf(await call("helion", "incident_attach_artifact", { incident_id: inc.id, name: "x.json", content: "{" })).code, "invalid_request");
  assert.is(errorOf(await call("helion", "incident_attach_artifact", { incident_id: inc.id, name: "x.txt", content: "%%%", encoding: "base64" })).code, "invalid_request");
  assert.not.ok(existsSync(join(artifactsDir, inc.id, "run.sh")));
  // Over 2 MB: the gateway's payload limit stops it first; the tool itself refuses it too.
  const h = { caller: { agent_id: "helion", role: "agent_oncall", entitlements: new Set<string>(), authenticated: false, channel: "test" } satisfies Caller, logger: capturedLogger().logger, signal: new AbortController().signal, now: () => new Date(NOW) };
  const act = tool.actions.incident_attach_artifact!;
  const params = act.params.parse({ incident_id: inc.id, name: "big.txt", content: "a".repeat(MAX_ARTIFACT_BYTES + 1) });
  try {
    await act.handler(params, h);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, "payload_too_large");
  }
});

test("close: resolution recorded, incident.closed published, second close is a no-op", async () => {
  const { call, create, published, clock } = setup();
  const inc = await create();
  clock.ms += 90 * 60_000;
  const closed = resultOf<{ incident: IncidentRecord; already_closed: boolean }>(await call("sofiia", "incident_close", { incident_id: inc.id, resolution: "rolled back" }));
  assert.equal([closed.incident.status, closed.incident.resolution, closed.incident.closed_at, closed.already_closed], ["closed", "rolled back", "2026-03-10T13:30:00.000Z", false]);
  const ev = published.find((p) => p.subject === "ops.events.incident.closed")!;
  assert.equal([ev.msgID, ev.data.incident_id, ev.data.resolution], [`incident.closed:${inc.id}@2026-03-10T13:30:00.000Z`, inc.id, "rolled back"]);
  const again = resultOf<{ already_closed: boolean }>(await call("sofiia", "incident_close", { incident_id: inc.id, resolution: "again" }));
  assert.is(again.already_closed, true);
  assert.is(published.filter((p) => p.subject === "ops.events.incident.closed").length, 1);
  assert.is(errorOf(await call("sofiia", "incident_close", { incident_id: inc.id })).code, "invalid_request");
});

test("alert_to_incident hands the caller's cap and window to the bridge", async () => {
  const { call, bridgeCalls } = setup();
  const r = resultOf<{ action: string; incident: IncidentRecord }>(await call("helion", "alert_to_incident", { alert_ref: "alrt_1", incident_severity_cap: "P2", dedupe_window_minutes: 30 }));
  assert.equal([r.action, r.incident.severity], ["created", "P2"]);
  assert.equal(bridgeCalls, [{ alertRef: "alrt_1", opts: { severity_cap: "P2", dedupe_window_minutes: 30 }, by: "helion" }]);
  assert.is(errorOf(await call("helion", "alert_to_incident", { alert_ref: "alrt_1", incident_severity_cap: "high" })).code, "invalid_request");
});

test("RBAC per the runbook: sofiia/helion (and the scheduler) write; monitor, aistalk and others read only", async () => {
  const { call, create } = setup();
  const inc = await create("sofiia");
  for (const agent of ["monitor", "aistalk", "someone", "anonymous"]) {
    resultOf(await call(agent, "incident_get", { incident_id: inc.id }));
    resultOf(await call(agent, "incident_list", {}));
    resultOf(await call(agent, "incident_followups_summary", {}));
    for (const [action, params] of [
      ["incident_create", { service: "x", severity: "P3", title: "t" }],
      ["incident_append_event", { incident_id: inc.id, message: "m" }],
      ["incident_attach_artifact", { incident_id: inc.id, name: "a.md", content: "x" }],
      ["incident_close", { incident_id: inc.id, resolution: "r" }],
      ["alert_to_incident", { alert_ref: "alrt_1" }],
    ] as const) {
      const err = errorOf(await call(agent, action, params));
      assert.equal([err.code, (err.details as { entitlement?: string }).entitlement], ["forbidden", "tools.incidents.write"], `${agent} ${action}`);
    }
  }
  for (const agent of ["sofiia", "helion", "scheduler"]) {
    resultOf(await call(agent, "incident_append_event", { incident_id: inc.id, message: `note by ${agent}` }));
  }
});

test("a failed event publish is logged, the store write stands", async () => {
  const { call, create, js, lines, store } = setup();
  js.failing = true;
  const inc = await create();
  assert.ok(await store.get(inc.id));
  resultOf(await call("helion", "incident_close", { incident_id: inc.id, resolution: "ok" }));
  assert.ok(lines.some((l) => l.includes("incident event publish failed")));
});

test("artifact_get: a listed artifact's text for a reader, cut at max_chars; unlisted or bad names refused", async () => {
  const { call, create, artifactsDir } = setup();
  const inc = await create();
  resultOf(await call("helion", "incident_attach_artifact", { incident_id: inc.id, name: "triage_report.md", content: "# Triage\n\n<script>x</script> ünïcode\n" }));
  const got = resultOf<{ artifact: { name: string; format: string }; content: string; truncated: boolean; chars: number }>(
    await call("aistalk", "incident_artifact_get", { incident_id: inc.id, name: "triage_report.md" }),
  );
  // Stored text as written: rendering (and sanitising) is the reader's business.
  assert.equal([got.artifact.name, got.artifact.format, got.content, got.truncated], ["triage_report.md", "md", "# Triage\n\n<script>x</script> ünïcode\n", false]);
  const cut = resultOf<{ content: string; truncated: boolean; chars: number }>(await call("aistalk", "incident_artifact_get", { incident_id: inc.id, name: "triage_report.md", max_chars: 8 }));
  assert.equal([cut.content, cut.truncated, cut.chars], ["# Triage", true, got.chars]);
  // A file on disk that the store does not list is not an artifact.
  writeFileSync(join(artifactsDir, inc.id, "stray.md"), "stray");
  assert.is(errorOf(await call("aistalk", "incident_artifact_get", { incident_id: inc.id, name: "stray.md" })).code, "not_found");
  assert.is(errorOf(await call("aistalk", "incident_artifact_get", { incident_id: inc.id, name: "../../etc/passwd" })).code, "not_found");
  assert.is(errorOf(await call("aistalk", "incident_artifact_get", { incident_id: "inc_20260310_1200_ffff", name: "triage_report.md" })).code, "not_found");
  assert.is(errorOf(await call("aistalk", "incident_artifact_get", { incident_id: inc.id, name: "triage_report.md", max_chars: 0 })).code, "invalid_request");
});

test.run();
