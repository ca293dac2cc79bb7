/**
 * The nodes poller: every NODES_POLL_INTERVAL_SEC asks each node of config/nodes_registry.yml for
 * its status (NATS `subjects.tools.monitorStatusOf(node_id)`, or HTTP `status_url`) and publishes one
 * `nodes.status` event listing every node online or offline, with the reason.
 */
import { openNats } from "../../nats/connect.js";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { nodeTargets, type NodesRegistry, type NodeTarget } from "../../config/nodes-policy.js";
import type { Logger } from "../../log.js";
import type { EventPublisher } from "../../nats/events.js";
import { EventEnvelope, type Subjects } from "../../subjects/index.js";
import type { MonitorStatus } from "./status.js";

export interface NodeReport {
  key: string;
  node_id: string;
  label: string;
  via: "nats" | "http";
  /** The subject (with nats_url when not this connection) or URL asked. */
  target: string;
  online: boolean;
  /** Why the node counts as offline: timeout, no responders, connection refused, HTTP 503, … */
  reason?: string;
  latency_ms: number;
  /** The headline of the node's answer, when it answered. */
  status?: Pick<MonitorStatus, "heartbeat_age_s" | "open_incidents" | "alerts_loop_slo" | "version" | "config_digest"> & { env?: string };
}

export interface NodesStatusData {
  nodes: NodeReport[];
  online: number;
  offline: number;
}

/** The newest `nodes.status` event (any gateway's poll), with its time; null before the first poll. */
export async function lastNodesStatus(ctx: { jsm: JetStreamManager; subjects: Subjects }): Promise<(NodesStatusData & { polled_at: string }) | null> {
  const msg = await ctx.jsm.streams.getMessage(ctx.subjects.events.stream, { last_by_subj: ctx.subjects.events.of("nodes.status") });
  if (!msg) return null;
  const ev = EventEnvelope.safeParse(msg.json());
  return ev.success ? { ...(ev.data.data as unknown as NodesStatusData), polled_at: ev.data.ts } : null;
}

export interface PollerDeps {
  nc: NatsConnection;
  subjects: Subjects;
  registry: NodesRegistry;
  events: Pick<EventPublisher, "publish">;
  logger: Logger;
}

/** A NATS or fetch failure as a short reason an operator recognises. */
export function reasonOf(err: unknown): string {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  const text = `${e?.name ?? ""} ${e?.message ?? String(err)}`;
  if (/no responders/i.test(text) || e?.code === "503") return "no responders";
  if (/timeout|timed out|TimeoutError|AbortError/i.test(text)) return "timeout";
  if (e?.cause?.code) return e.cause.code === "ECONNREFUSED" ? "connection refused" : e.cause.code;
  return e?.message ?? String(err);
}

function headline(s: Partial<MonitorStatus>): NodeReport["status"] {
  return {
    heartbeat_age_s: s.heartbeat_age_s ?? -1,
    open_incidents: s.open_incidents ?? null,
    alerts_loop_slo: s.alerts_loop_slo ?? { p95_ms: null, samples: 0, failed_rate: null },
    version: s.version ?? "unknown",
    config_digest: s.config_digest ?? "unknown",
    ...(s.env ? { env: s.env } : {}),
  };
}

export class NodesPoller {
  private readonly remotes = new Map<string, Promise<NatsConnection>>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<unknown> | undefined;
  private readonly lastOnline = new Map<string, boolean>();

  constructor(private readonly d: PollerDeps) {}

  private remote(url: string, timeoutMs: number): Promise<NatsConnection> {
    let c = this.remotes.get(url);
    if (!c) {
      // Remote nodes share this bus's credentials (NATS_USER/NATS_CREDS…): a secured bus refuses anonymous pollers.
      c = openNats({ url, name: "opsbus-nodes-poller", timeoutMs });
      // A failed connect is retried at the next poll, not cached.
      c.catch(() => this.remotes.delete(url));
      this.remotes.set(url, c);
    }
    return c;
  }

  private async ask(t: NodeTarget): Promise<{ via: NodeReport["via"]; target: string; answer: () => Promise<Partial<MonitorStatus>> }> {
    if (t.status_url) {
      const url = t.status_url;
      return {
        via: "http",
        target: url,
        answer: async () => {
          const res = await fetch(url, { signal: AbortSignal.timeout(t.timeout_ms), headers: { accept: "application/json" } });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          return (await res.json()) as Partial<MonitorStatus>;
        },
      };
    }
    const subject = this.d.subjects.tools.monitorStatusOf(t.node_id);
    return {
      via: "nats",
      target: t.nats_url ? `${t.nats_url} ${subject}` : subject,
      answer: async () => {
        const nc = t.nats_url ? await this.remote(t.nats_url, t.timeout_ms).catch((err: Error) => Promise.reject(new Error(`connect: ${reasonOf(err)}`))) : this.d.nc;
        // A remote connection that gave up reconnecting is replaced at the next poll.
        if (nc.isClosed()) {
          this.remotes.delete(t.nats_url!);
          throw new Error("connect: connection closed");
        }
        return (await nc.request(subject, "", { timeout: t.timeout_ms })).json<Partial<MonitorStatus>>();
      },
    };
  }

  private async pollNode(t: NodeTarget): Promise<NodeReport> {
    const { via, target, answer } = await this.ask(t);
    const base = { key: t.key, node_id: t.node_id, label: t.label, via, target };
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    try {
      const s = await answer();
      if (s.node_id !== undefined && s.node_id !== t.node_id) return { ...base, online: false, reason: `answered as node ${s.node_id}`, latency_ms: ms() };
      if (s.online !== true) return { ...base, online: false, reason: "reported offline", latency_ms: ms(), status: headline(s) };
      return { ...base, online: true, latency_ms: ms(), status: headline(s) };
    } catch (err) {
      return { ...base, online: false, reason: reasonOf(err), latency_ms: ms() };
    }
  }

  /** Polls every node once and publishes the event; never throws. */
  async pollOnce(): Promise<NodesStatusData> {
    const nodes = await Promise.all(nodeTargets(this.d.registry).map((t) => this.pollNode(t)));
    const data: NodesStatusData = { nodes, online: nodes.filter((n) => n.online).length, offline: nodes.filter((n) => !n.online).length };
    for (const n of nodes) {
      if (this.lastOnline.get(n.key) !== n.online) {
        const log = this.d.logger.child({ node: n.key, node_id: n.node_id, via: n.via });
        if (n.online) log.info({ latency_ms: n.latency_ms }, "node online");
        else log.warn({ reason: n.reason }, "node offline");
      }
      this.lastOnline.set(n.key, n.online);
    }
    await this.d.events.publish("nodes.status", data).catch((err: unknown) => this.d.logger.warn({ err }, "could not publish nodes.status"));
    return data;
  }

  /** Polls now and then every `intervalMs`; a poll still running skips the next tick. */
  start(intervalMs: number): this {
    const tick = () => {
      this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    for (const c of this.remotes.values()) await c.then((nc) => nc.close(), () => undefined);
    this.remotes.clear();
  }
}
