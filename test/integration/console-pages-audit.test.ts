/**
 * The console's audit and release pages, and an incident's artifacts, on a real gateway and
 * nats-server: the audit page for a role that reads audit (filters, channel, paging without gaps),
 * refused with a 403 page and no nav entry for a monitor; the release form answers every gate's
 * verdict with reasons, as release_tool does; an incident with a hostile markdown artifact renders
 * it as markup with no script, no on* attribute, no javascript: link; the follow-up and postmortem
 * actions show to a role that may run them, and run through the console's tool channel.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AuditRecord } from "../../src/audit/store.js";
import type { ReleaseCheckResult } from "../../src/release/types.js";
import { freePort } from "../harness/ports.js";
import { consoleLogin, consolePage, consoleTool, type ConsoleSession } from "../harness/console.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let base: string;

test.before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  s = await startStack({ env: { HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" } });
});
test.after(async () => s?.stop());

type Session = ConsoleSession;
const login = (agent: string) => consoleLogin(base, agent);
const page = (se: Session, path: string) => consolePage(base, se, path);
const tool = (se: Session, name: string, action: string, params: Record<string, unknown>) => consoleTool(base, se, name, action, params);

const navLinks = (html: string) => [...(/<nav aria-label="Console">([\s\S]*?)<\/nav>/.exec(html)?.[1] ?? "").matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
const rowIds = (html: string, table: string) => [...(new RegExp(`<table class="${table}">([\\s\\S]*?)</table>`).exec(html)?.[1] ?? "").matchAll(/<tr data-id="([^"]+)"/g)].map((m) => m[1]!);
const unescape = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");

/** Every tag of a page: no inline handler, no style attribute, no javascript:/data: URL, one script (app.js with the nonce). */
function assertInertPage(html: string): void {
  const tags = html.match(/<[^>]*>/g) ?? [];
  const scripts = tags.filter((t) => /^<script\b/i.test(t));
  assert.equal(scripts.length, 1, scripts.join(" "));
  assert.match(scripts[0]!, /^<script nonce="[^"]+" src="\/console\/static\/app\.js" defer>$/);
  for (const t of tags) {
    const names = t.replace(/"[^"]*"/g, '""');
    assert.not.match(names, /\son[a-z]+\s*=/i, t);
    assert.not.match(names, /\sstyle\s*=/i, t);
    assert.not.match(t, /(href|src|action)="\s*(javascript|vbscript|data):/i, t);
  }
  assert.not.match(html, /<(img|svg|iframe|object|embed)\b/i);
}

test("audit page: a role that reads audit sees the log, filtered by the tool's params (channel included), paged with no record lost", async () => {
  const admin = await login("sofiia");
  // 60 calls of one agent, a second apart, straight into the audit store: two pages.
  const t0 = Date.now() - 3_600_000;
  const records: AuditRecord[] = Array.from({ length: 60 }, (_, i) => ({
    id: `aud_pager_${String(i).padStart(3, "0")}`,
    ts: new Date(t0 + i * 1000).toISOString(),
    agent_id: "pager",
    role: "agent_default",
    tool: "oncall_tool",
    action: i % 10 === 0 ? "incident_close" : "incident_get",
    decision: i % 10 === 0 ? "deny" : "allow",
    status: i % 10 === 0 ? "forbidden" : "ok",
    duration_ms: 1.5,
    params: { incident_id: `inc_${i}`, note: "<script>alert(1)</script>" },
    channel: i % 2 ? "nats" : "http",
    node_id: "n1",
  }));
  await s.running.ctx.stores.audit.append(records);

  const all = await page(admin, "/console/audit");
  assert.is(all.status, 200);
  assert.ok(navLinks(all.html).includes("/console/audit"), "Audit in the nav");
  assert.match(all.html, /<table class="audit">/);
  assertInertPage(all.html);
  assert.match(all.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, "params shown as text");

  const first = await page(admin, "/console/audit?agent_id=pager");
  const ids1 = rowIds(first.html, "audit");
  assert.is(ids1.length, 50);
  assert.is(ids1[0], "aud_pager_059", "newest first");
  const older = /<a href="([^"]+)" rel="next">Older/.exec(first.html)?.[1];
  assert.ok(older, "an Older link");
  const second = await page(admin, unescape(older!));
  const ids2 = rowIds(second.html, "audit");
  assert.not.match(second.html, /rel="next"/, "the last page");
  assert.match(second.html, /← Newest/);
  assert.equal(new Set([...ids1, ...ids2]), new Set(records.map((r) => r.id)), "every record on one of the pages");

  const denied = rowIds((await page(admin, "/console/audit?agent_id=pager&decision=deny")).html, "audit");
  assert.equal(denied, ["aud_pager_050", "aud_pager_040", "aud_pager_030", "aud_pager_020", "aud_pager_010", "aud_pager_000"]);
  const http = rowIds((await page(admin, "/console/audit?agent_id=pager&channel=http&status=ok&tool=oncall_tool&action=incident_get")).html, "audit");
  assert.equal(http.length, 24, http.join(","));
  assert.ok(http.every((id) => Number(id.slice(-3)) % 2 === 0 && Number(id.slice(-3)) % 10 !== 0));
  const window = rowIds((await page(admin, `/console/audit?agent_id=pager&since=${encodeURIComponent(records[10]!.ts)}&until=${records[20]!.ts.slice(0, 19)}`)).html, "audit");
  assert.equal(window.length, 10, "since inclusive, until exclusive (a datetime-local value read as UTC)");

  // This page's own calls are audited with channel console.
  const mine = await waitFor(async () => (await s.running.ctx.stores.audit.query({ agent_id: "sofiia", tool: "audit_tool", limit: 100 })).at(0) ?? null);
  assert.is(mine.channel, "console");
  assert.ok(rowIds((await page(admin, "/console/audit?channel=console&tool=audit_tool")).html, "audit").includes(mine.id));

  const bad = await page(admin, "/console/audit?since=yesterday&agent_id=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E");
  assert.is(bad.status, 200);
  assert.match(bad.html, /since is not a time/);
  assertInertPage(bad.html);
});

test("audit page: a monitor has no Audit in the nav and is refused with a clear message (403); its denial is not a tool call", async () => {
  for (const agent of ["monitor", "aistalk"]) {
    const se = await login(agent);
    const overview = await page(se, "/console/");
    assert.not.ok(navLinks(overview.html).includes("/console/audit"), `${agent}: no Audit in the nav`);
    const p = await page(se, "/console/audit?agent_id=sofiia");
    assert.is(p.status, 403, agent);
    assert.match(p.html, /may not read the audit log: that needs the entitlement tools\.audit\.read/);
    assert.not.match(p.html, /<table class="audit">/);
  }
});

test("release page: the form answers every gate's verdict with its reasons, as release_tool does; a monitor is refused", async () => {
  const oncall = await login("helion");
  const empty = await page(oncall, "/console/release");
  assert.is(empty.status, 200);
  assert.ok(navLinks(empty.html).includes("/console/release"));
  assert.match(empty.html, /<form class="filters" method="get" action="\/console\/release"/);
  assert.not.match(empty.html, /id="release-verdict"/);

  for (const env of ["dev", "prod"]) {
    const p = await page(oncall, `/console/release?service=checkout&env=${env}`);
    assert.is(p.status, 200);
    assertInertPage(p.html);
    const direct = await s.call<ReleaseCheckResult>("release_tool", "release_check", { service: "checkout", env }, { agent: "helion" });
    assert.ok(direct.ok, JSON.stringify(direct));
    const r = direct.result!;
    assert.match(p.html, new RegExp(`Release of <code>checkout</code> to ${env}: <span class="state verdict verdict-${r.verdict}">${r.pass ? "pass" : "fail"}</span>`));
    for (const g of r.gates) {
      const row = new RegExp(`<tr data-gate="${g.gate}"><th scope="row">${g.gate}</th><td>${g.mode}</td><td><span class="state verdict verdict-${g.verdict}">${g.verdict}</span></td><td>([\\s\\S]*?)</td></tr>`).exec(p.html);
      assert.ok(row, `${env} ${g.gate} ${g.verdict}`);
      assert.ok(g.reasons.length > 0, `${g.gate} has reasons`);
      // Reasons that do not depend on the instant of the check (readings may move between the two calls).
      if (g.verdict === "skipped") for (const reason of g.reasons) assert.ok(row![1]!.includes(reason), `${g.gate}: ${reason}`);
    }
  }
  const audited = await waitFor(async () => (await s.running.ctx.stores.audit.query({ agent_id: "helion", tool: "release_tool", channel: "console", limit: 10 })).length >= 2 || null);
  assert.ok(audited);

  const wrong = await page(oncall, "/console/release?env=moon&service=%22%3E%3Cscript%3E");
  assert.match(wrong.html, /Cannot check: env must be one of/);
  assertInertPage(wrong.html);

  const monitor = await login("monitor");
  assert.not.ok(navLinks((await page(monitor, "/console/")).html).includes("/console/release"));
  const refused = await page(monitor, "/console/release?env=prod");
  assert.is(refused.status, 403);
  assert.match(refused.html, /may not run release checks/);
});

const HOSTILE_MD = [
  "# Triage report",
  "",
  "Rendered **bold** and [the runbook](https://runbooks.example/checkout).",
  "",
  "<script>alert('md-script')</script>",
  '<img src=x onerror="alert(1)">',
  "[click me](javascript:alert(1))",
  "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "![pixel](data:image/png;base64,iVBORw0KGgo=)",
  '<p style="background:url(javascript:alert(1))">styled</p>',
  '[title](https://ok.example "x\\" onmouseover=\\"alert(1)")',
  "```js\" onclick=\"alert(1)\ncode\n```",
  "> <svg onload=alert(1)>",
].join("\n");

test("incident page: a hostile markdown artifact renders as markup with no script, no on* attribute, no javascript: link; follow-up and postmortem actions by role", async () => {
  const created = await s.call<{ incident: { id: string } }>("oncall_tool", "incident_create", { service: "checkout", severity: "P2", title: "Checkout <b>latency</b>", env: "prod" }, { agent: "helion" });
  assert.ok(created.ok, JSON.stringify(created));
  const id = created.result.incident.id;
  const attached = await s.call("oncall_tool", "incident_attach_artifact", { incident_id: id, name: "triage_report.md", content: HOSTILE_MD }, { agent: "helion" });
  assert.ok((attached as { ok: boolean }).ok, JSON.stringify(attached));
  await s.call("oncall_tool", "incident_attach_artifact", { incident_id: id, name: "triage_report.json", content: JSON.stringify({ note: "<script>alert(2)</script>" }) }, { agent: "helion" });

  const oncall = await login("helion");
  const p = await page(oncall, `/console/incidents/${id}`);
  assert.is(p.status, 200);
  assertInertPage(p.html);
  const section = /<section aria-labelledby="h-art" id="incident-artifacts" data-live>([\s\S]*?)<\/section>/.exec(p.html)?.[1] ?? "";
  assert.match(section, /<h4>Triage report<\/h4>/, "rendered from markdown");
  assert.match(section, /<strong>bold<\/strong>/);
  assert.match(section, /<a href="https:\/\/runbooks\.example\/checkout" rel="noopener noreferrer nofollow">the runbook<\/a>/);
  assert.match(section, /&lt;script&gt;alert\('md-script'\)&lt;\/script&gt;/, "raw HTML shown as text");
  assert.not.match(section, /href="[^"]*(javascript|data):/i);
  assert.match(section, /<details class="artifact" id="art-triage_report\.json">/, "the JSON twin, folded");
  assert.match(section, /&lt;script&gt;alert\(2\)&lt;\/script&gt;/);
  assert.match(p.html, /Checkout &lt;b&gt;latency&lt;\/b&gt;/);

  // The on-call role sees both new actions; a monitor sees neither.
  assert.match(p.html, /<form class="tool followup" data-tool="oncall_tool" data-action="incident_append_event"/);
  assert.match(p.html, /<form class="tool postmortem" data-tool="graphs_tool" data-action="run"/);
  assert.match(p.html, /name="title" data-in="meta"/);
  const monitor = await login("monitor");
  const m = await page(monitor, `/console/incidents/${id}`);
  assert.is(m.status, 200);
  assert.match(m.html, /<h4>Triage report<\/h4>/, "a reader sees the report");
  assert.not.match(m.html, /data-tool=/);

  // What the forms post (app.js puts data-in="meta" fields under meta) runs on the console channel.
  const fu = await tool(oncall, "oncall_tool", "incident_append_event", { incident_id: id, type: "followup", meta: { title: "Add a latency SLO alert", owner: "payments", due_date: "2030-01-31" } });
  assert.is(fu.status, 200, await fu.clone().text());
  const after = await page(oncall, `/console/incidents/${id}`);
  assert.match(/<section aria-labelledby="h-fu" id="incident-followups" data-live>([\s\S]*?)<\/section>/.exec(after.html)?.[1] ?? "", /<strong class="title">Add a latency SLO alert<\/strong> <span class="muted">owner payments · due 2030-01-31<\/span>/);
  const run = await tool(oncall, "graphs_tool", "run", { incident_id: id, graph: "postmortem_draft" });
  assert.is(run.status, 200, await run.clone().text());
  const body = (await run.json()) as { result: { run_id: string; status: string; graph: string } };
  assert.equal([body.result.status, body.result.graph], ["queued", "postmortem_draft"]);
  const audit = await waitFor(async () => (await s.running.ctx.stores.audit.query({ tool: "graphs_tool", action: "run", limit: 10 })).at(0) ?? null);
  assert.equal([audit.channel, audit.agent_id, audit.status], ["console", "helion", "ok"]);
  const reads = await s.running.ctx.stores.audit.query({ tool: "oncall_tool", action: "incident_artifact_get", channel: "console", limit: 100 });
  assert.ok(reads.some((r) => r.agent_id === "monitor"), "artifact reads go through the tool as the session's agent");
});

test.run();
