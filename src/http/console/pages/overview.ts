/**
 * Overview: the nodes (the last poll of config/nodes_registry.yml: online, heartbeat age), this
 * node's alert loop (p95, failed rate), open incidents by severity, queue depth per consumer (the
 * health answer), the live event feed.
 */
import type { IncidentRecord } from "../../../incidents/store.js";
import type { QueueDepth } from "../../../observability/health.js";
import type { NodeReport } from "../../../observability/monitor/nodes.js";
import type { MonitorStatus } from "../../../observability/monitor/status.js";
import { SEVERITIES } from "../../../subjects/alerts.js";
import { html, time, type Html } from "./html.js";
import { failed, type Page, type PageContext } from "./layout.js";

/** A consumer of the health answer's queues; read as possibly partial, since the page gets the answer untyped. */
export type QueueRow = Partial<Pick<QueueDepth, "stream" | "consumer" | "depth" | "state">>;

/** What the page reads of a monitor_tool.nodes node (the poller's report). */
type NodeRow = Pick<NodeReport, "node_id" | "label" | "online" | "reason" | "latency_ms" | "status">;

const pct = (rate: number | null | undefined) => (rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(rate < 0.01 && rate > 0 ? 2 : 1)}%`);

async function nodesSection(ctx: PageContext): Promise<Html> {
  if (!ctx.may("monitor_tool", "nodes")) return html`<p class="muted">Your role does not read node status.</p>`;
  const [n, st] = await Promise.all([ctx.call("monitor_tool", "nodes"), ctx.call("monitor_tool", "status")]);
  let loop: Html = html``;
  if (st.ok) {
    const slo = (st.result.alerts_loop_slo ?? {}) as Partial<MonitorStatus["alerts_loop_slo"]>;
    loop = html`<p class="loop">This node (${String(st.result.node_id ?? "")}): alert loop p95 <strong>${slo.p95_ms === null || slo.p95_ms === undefined ? "—" : `${Math.round(slo.p95_ms)} ms`}</strong> over ${slo.samples ?? 0} alerts (15 min), failed <strong>${pct(slo.failed_rate)}</strong> (1 h), heartbeat ${String(st.result.heartbeat_age_s ?? "?")} s ago</p>`;
  }
  if (!n.ok) return html`${loop}${failed("nodes", n)}`;
  const nodes = (n.result.nodes ?? []) as NodeRow[];
  const polled = typeof n.result.polled_at === "string" ? n.result.polled_at : undefined;
  const table =
    nodes.length === 0
      ? html`<p class="empty">${polled ? "No nodes in config/nodes_registry.yml." : "No poll of config/nodes_registry.yml yet: the gateway polls every NODES_POLL_INTERVAL_SEC (30 s)."}</p>`
      : html`<table class="nodes"><thead><tr><th scope="col">Node</th><th scope="col">State</th><th scope="col" class="num">Heartbeat age</th><th scope="col" class="num">Round trip</th></tr></thead><tbody>
${nodes.map((r) => html`<tr data-node="${r.node_id}"><td>${r.label} <span class="muted small">${r.node_id}</span></td><td>${r.online ? html`<span class="state state-online">online</span>` : html`<span class="state state-offline">offline</span> <span class="muted">${r.reason ?? ""}</span>`}</td><td class="num">${r.status?.heartbeat_age_s === undefined ? "—" : `${r.status.heartbeat_age_s} s`}</td><td class="num">${r.latency_ms} ms</td></tr>`)}</tbody></table>
<p class="muted small">Polled ${time(polled, ctx.now)}</p>`;
  return html`${loop}${table}`;
}

export async function overviewPage(ctx: PageContext, health: () => Promise<unknown>): Promise<Page> {
  const nodes = await nodesSection(ctx);
  let incidents: Html;
  if (ctx.may("oncall_tool", "incident_list")) {
    const a = await ctx.call("oncall_tool", "incident_list", { status: ["open", "mitigating"], limit: 1000 });
    if (!a.ok) incidents = failed("incidents", a);
    else {
      const list = (a.result.incidents ?? []) as Array<Pick<IncidentRecord, "severity">>;
      const counts = SEVERITIES.map((s) => [s, list.filter((i) => i.severity === s).length] as const);
      incidents =
        list.length === 0
          ? html`<p class="empty">No open incidents. New ones appear here as alerts arrive.</p>`
          : html`<ul class="sev-counts">${counts.map(([s, n]) => html`<li><a class="sev sev-${s}" href="/console/incidents?severity=${s}">${s}</a> <strong>${n}</strong></li>`)}</ul>
<p><a href="/console/incidents">${list.length} open incident${list.length === 1 ? "" : "s"} →</a></p>`;
    }
  } else incidents = html`<p class="muted">Your role does not read incidents.</p>`;

  let queues: Html;
  try {
    const report = (await health()) as { queues?: QueueRow[] | { error: string } };
    const q = report.queues;
    queues = !q
      ? html`<p class="muted">No queue figures in the health answer.</p>`
      : !Array.isArray(q)
        ? html`<p class="error">Queues unreadable: ${q.error}</p>`
        : html`<table><thead><tr><th scope="col">Consumer</th><th scope="col">Stream</th><th scope="col" class="num">Depth</th><th scope="col">State</th></tr></thead>
<tbody>${q.map((r) => html`<tr><td>${r.consumer ?? "?"}</td><td>${r.stream ?? ""}</td><td class="num">${r.depth ?? ""}</td><td>${r.state ?? ""}</td></tr>`)}</tbody></table>`;
  } catch (err) {
    queues = html`<p class="error">Health unavailable: ${(err as Error).message}</p>`;
  }

  return {
    title: "Overview",
    page: "overview",
    live: ["incident.", "nodes."],
    body: html`<section aria-labelledby="h-nodes" id="overview-nodes" data-live><h2 id="h-nodes">Nodes</h2>${nodes}</section>
<div class="grid">
<section aria-labelledby="h-inc" id="overview-incidents" data-live><h2 id="h-inc">Open incidents</h2>${incidents}</section>
<section aria-labelledby="h-q" id="overview-queues" data-live><h2 id="h-q">Queue depth</h2>${queues}</section>
</div>
<section aria-labelledby="h-feed"><h2 id="h-feed">Live events</h2>
<p class="empty" id="feed-empty">Waiting for events… they appear here as they happen.</p>
<ol id="feed" class="feed" data-feed></ol></section>`,
  };
}
