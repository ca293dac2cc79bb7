/** `opsbus demo`: an alert storm against a running stack, and what the pipeline made of it. */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { OPS_ENVS } from "../config/env.js";
import { formatIsoWeek, isoWeekOf } from "../util/iso-week.js";
import { cliConnection } from "./client.js";
import { buildStorm, MIN_STORM } from "./demo-storm.js";
import { DemoWatch, type DemoProgress } from "./demo-watch.js";
import { intOption, toolCaller, UsageError, type ToolCaller } from "./job-client.js";

const HELP = `opsbus demo [--alerts N] [--env E] [--timeout S] [--agent ID] [--key KEY]

Publishes a realistic alert storm (default 300 alerts) against a running opsbus (npm start):
six services, a flapping one (search), an SLO breach (payments) and duplicates (checkout,
auth). Waits on the events until every alert is ingested, on an incident and triaged (at most
--timeout seconds, default 120), then prints the incidents and triage runs, runs the platform
digest and the weekly backlog generation for this ISO week through the tool API, and prints the
backlog items. Progress goes to stderr. --agent defaults to sofiia (needs incident read,
pressure write and backlog admin); in staging/prod pass --key or set OPSBUS_KEY.`;

export async function runDemo(args: string[]): Promise<number> {
  let o: { total: number; env: string; timeoutS: number; agent: string; key?: string };
  try {
    const { values } = parseArgs({
      args,
      options: {
        alerts: { type: "string" }, env: { type: "string", default: "prod" }, timeout: { type: "string" },
        agent: { type: "string", default: "sofiia" }, key: { type: "string" }, help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!(OPS_ENVS as readonly string[]).includes(values.env)) throw new UsageError(`--env must be ${OPS_ENVS.slice(0, -1).join(", ")} or ${OPS_ENVS.at(-1)}, got "${values.env}"`);
    o = { total: intOption("--alerts", values.alerts, 300), env: values.env, timeoutS: intOption("--timeout", values.timeout, 120), agent: values.agent, ...(values.key ? { key: values.key } : {}) };
    if (o.total < MIN_STORM) throw new UsageError(`--alerts must be at least ${MIN_STORM}, for a storm with every pattern in it`);
  } catch (err) {
    console.error(`opsbus demo: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { nc, subjects, url } = await cliConnection();
  const watch = new DemoWatch(nc, subjects, randomBytes(3).toString("hex"), o.total);
  try {
    // Nothing answering ops.health means no opsbus: say so now instead of timing out later.
    await nc.request(subjects.tools.health, "", { timeout: 5000 }).catch(() => {
      throw new Error(`no opsbus answers on ${url} (${subjects.tools.health}); start one with npm start`);
    });
    const storm = buildStorm(o.total, o.env, watch.tag);
    const s = storm.summary;
    const started = Date.now();
    const js = jetstream(nc);
    const step = Math.max(1, Math.floor(o.total / 10));
    for (let i = 0; i < storm.alerts.length; i += 50) {
      const chunk = storm.alerts.slice(i, i + 50);
      await Promise.all(chunk.map((a, k) => js.publish(subjects.alerts.in(a.service), JSON.stringify(a), { msgID: `${storm.tag}:${i + k}` })));
      const done = i + chunk.length;
      if (done % step < chunk.length || done === o.total) console.error(`published ${done}/${o.total}`);
    }
    console.log(`demo ${storm.tag}: ${o.total} alerts in ${((Date.now() - started) / 1000).toFixed(1)} s on ${s.services} services (${s.duplicates} duplicates, ${s.flapping} from flapping search, ${s.slo_breach} SLO breaches on payments)`);
    const p = await watch.until(o.timeoutS * 1000, (q) => console.error(`waiting: ${q.accepted + q.deduped + q.rejected}/${o.total} ingested, ${q.onIncident}/${q.accepted} on incidents, ${q.triageDone}/${q.triageQueued} triage runs done`));
    console.log(`processed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${p.accepted} accepted, ${p.deduped} deduped, ${p.rejected} rejected`);
    const call = toolCaller(nc, subjects, { agent: o.agent, ...(o.key ? { key: o.key } : {}), timeoutMs: 30_000 });
    const incidents = await printIncidents(call, p);
    console.log(`triage runs: ${p.triageDone} completed, ${p.triageFailed} failed`);
    await addOverdueFollowups(call, incidents);
    await printBacklog(call, o.env);
    return 0;
  } catch (err) {
    console.error(`opsbus demo: ${(err as Error).message}`);
    return 1;
  } finally {
    watch.close();
    await nc.close();
  }
}

interface Incident { id: string; service: string; severity: string; status: string; alert_count?: number; title: string }

async function printIncidents(call: ToolCaller, p: DemoProgress): Promise<Incident[]> {
  const rows = await Promise.all([...p.incidents].map(async (id) => (await call<{ incident: Incident }>("oncall_tool", "incident_get", { incident_id: id, include_events: false })).incident));
  rows.sort((a, b) => a.severity.localeCompare(b.severity) || (b.alert_count ?? 0) - (a.alert_count ?? 0));
  console.log(`incidents (${rows.length}):`);
  for (const r of rows) {
    const esc = p.escalations.filter((e) => e.incident_id === r.id).map((e) => `${e.from ?? "?"}→${e.to ?? "?"}`);
    console.log(`  ${r.id}  ${r.service.padEnd(14)} ${r.severity}  ${String(r.alert_count ?? "?").padStart(4)} alerts  ${r.status}${esc.length ? `  escalated ${esc.join(", ")}` : ""}  ${r.title}`);
  }
  return rows;
}

/**
 * Action items carried over from an earlier payments postmortem, already past due: a fresh stack
 * has no history, and overdue follow-ups are what (with the storm's incidents) push a service's
 * architecture pressure high enough for backlog items.
 */
async function addOverdueFollowups(call: ToolCaller, incidents: Incident[]): Promise<void> {
  const target = incidents.filter((i) => i.service === "payments").sort((a, b) => (b.alert_count ?? 0) - (a.alert_count ?? 0))[0];
  if (!target) return;
  const titles = ["add a burn-rate alert on the capture path", "load-test card authorisation at 2x peak", "cap payments-api memory per pod", "size the DB connection pool per replica"];
  for (const [k, title] of titles.entries()) {
    const due = new Date(Date.now() - (k + 1) * 86_400_000).toISOString().slice(0, 10);
    await call("oncall_tool", "incident_append_event", { incident_id: target.id, type: "followup", message: title, meta: { title, owner: "helion", due_date: due } });
  }
  console.log(`follow-ups: ${titles.length} from the last payments postmortem added to ${target.id}, all past due`);
}

interface BacklogBrief { id: string; dedupe_key: string; action: string; priority: string; status: string; owner?: string }

async function printBacklog(call: ToolCaller, env: string): Promise<void> {
  const week = formatIsoWeek(isoWeekOf(new Date()));
  console.error(`running architecture_pressure_tool.digest for ${week} (${env})`);
  const digest = await call<{ totals: { services: number; requires_arch_review: number }; files: { json: string } }>("architecture_pressure_tool", "digest", { week, env });
  console.log(`platform digest ${week} (${env}): ${digest.totals.services} services, ${digest.totals.requires_arch_review} requiring architecture review -> ${digest.files.json}`);
  console.error(`running backlog_tool.auto_generate_weekly for ${week} (${env})`);
  const gen = await call<{ created: number; updated: number; unchanged?: number; items: BacklogBrief[] }>("backlog_tool", "auto_generate_weekly", { week, env });
  const { items: all } = await call<{ items: Array<{ id: string; title: string; service: string; category: string }> }>("backlog_tool", "list", { env, limit: 500 });
  const byId = new Map(all.map((i) => [i.id, i]));
  console.log(`backlog ${week}: ${gen.created} created, ${gen.updated} updated${gen.unchanged ? `, ${gen.unchanged} unchanged` : ""}`);
  for (const b of gen.items) {
    const item = byId.get(b.id);
    console.log(`  ${b.priority}  ${b.status.padEnd(11)} ${(item?.service ?? "").padEnd(14)} ${(item?.category ?? "").padEnd(18)} ${item?.title ?? b.dedupe_key}`);
  }
}
