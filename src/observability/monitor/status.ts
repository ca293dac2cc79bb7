/**
 * Node status in the control-plane runbook's shape, computed from this process's real state:
 * heartbeat, round trips to JetStream and the tool service, the alert loop's recent latencies and
 * failures, open incidents, store backends and the newest governance artifacts. Served on
 * `subjects.tools.monitorStatus`, `subjects.tools.monitorStatusOf(node_id)`, `GET /monitor/status` and
 * `monitor_tool.status`.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { OpsEnv } from "../../config/env.js";
import type { Policies } from "../../config/policies.js";
import type { Logger } from "../../log.js";
import type { Stores } from "../../stores/factory.js";
import type { OpsMetrics } from "../metrics/opsbus.js";
import { SERVICE_NAME } from "../../subjects/index.js";
import { VERSION } from "../../version.js";
import { lastArtifacts, type ArtifactSources, type LastArtifacts } from "./artifacts.js";
import { configDigest } from "./digest.js";

/** A heartbeat older than this many intervals means the node lost its NATS connection. */
const STALE_BEATS = 3;
const PROBE_TIMEOUT_MS = 2000;
/** failed_rate looks at alerts last seen within this window. */
export const FAILED_RATE_WINDOW_MINUTES = 60;
/** open_incidents counts up to this many (and says so when capped). */
const OPEN_INCIDENTS_CAP = 1000;

export interface Probe {
  ok: boolean;
  latency_ms: number;
  error?: string;
}

export interface MonitorStatus {
  online: boolean;
  ts: string;
  node_id: string;
  env: string;
  version: string;
  /** See configDigest: equal on nodes that load the same policies. */
  config_digest: string;
  heartbeat_age_s: number;
  /** JetStream API round trip ($JS.API.INFO). */
  router: Probe;
  /** Tool service round trip ($SRV.PING.opsbus-tools, any instance). */
  gateway: Probe;
  alerts_loop_slo: {
    /** p95 of the alert-loop latencies this process recorded in the last 15 minutes; null without samples. */
    p95_ms: number | null;
    samples: number;
    /** failed / (acked + failed) over alerts last seen in the last hour (alert store); null when none settled. */
    failed_rate: number | null;
  };
  open_incidents: number | null;
  open_incidents_capped?: boolean;
  backends: Record<keyof Stores, string>;
  last_artifacts: LastArtifacts;
}

/** What the status reads: this process's connections, stores, config and metrics. */
export interface MonitorStatusDeps extends ArtifactSources {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stores: Stores;
  policies: Policies;
  nodeId: string;
  opsEnv: OpsEnv;
  logger: Logger;
  /** Read at each status: the process's metrics may be attached after these deps are built. */
  metrics(): OpsMetrics | undefined;
  now(): Date;
}

/** Seconds since NATS last answered this process's ping. */
export class Heartbeat {
  private last = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly intervalMs = 5000,
  ) {}

  start(): this {
    const beat = () => void this.nc.rtt().then(() => (this.last = Date.now()), () => undefined);
    beat();
    this.timer = setInterval(beat, this.intervalMs);
    this.timer.unref();
    void this.nc.closed().then(() => this.stop());
    return this;
  }

  ageSeconds(): number {
    return Math.max(0, Math.round((Date.now() - this.last) / 1000));
  }

  fresh(): boolean {
    return Date.now() - this.last <= STALE_BEATS * this.intervalMs;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const heartbeats = new WeakMap<NatsConnection, Heartbeat>();

/** The one heartbeat of a connection, started on first use; it stops when the connection closes. */
export function heartbeatOf(nc: NatsConnection): Heartbeat {
  let hb = heartbeats.get(nc);
  if (!hb) {
    hb = new Heartbeat(nc).start();
    heartbeats.set(nc, hb);
  }
  return hb;
}

async function probe(fn: () => Promise<unknown>): Promise<Probe> {
  const started = performance.now();
  try {
    await fn();
    return { ok: true, latency_ms: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    return { ok: false, latency_ms: Math.round(performance.now() - started), error: (err as Error).message };
  }
}

function backendsOf(stores: Stores): Record<keyof Stores, string> {
  return Object.fromEntries(Object.entries(stores).map(([name, s]) => [name, s.backendName])) as Record<keyof Stores, string>;
}

/** Counts only (an indexed window read), not the dashboard's top signatures and lists over every alert of the window. */
async function failedRate(ctx: MonitorStatusDeps): Promise<number | null> {
  const counts = await ctx.stores.alerts.statusCounts(FAILED_RATE_WINDOW_MINUTES, ctx.now());
  const settled = counts.acked + counts.failed;
  return settled ? Math.round((counts.failed / settled) * 10_000) / 10_000 : null;
}

async function openIncidents(ctx: MonitorStatusDeps): Promise<{ count: number; capped: boolean }> {
  const open = await ctx.stores.incidents.list({ status: ["open", "mitigating"], limit: OPEN_INCIDENTS_CAP });
  return { count: open.length, capped: open.length >= OPEN_INCIDENTS_CAP };
}

export async function monitorStatus(ctx: MonitorStatusDeps, heartbeat: Heartbeat): Promise<MonitorStatus> {
  const [router, gateway, rate, incidents, artifacts] = await Promise.all([
    probe(() => ctx.jsm.getAccountInfo()),
    probe(() => ctx.nc.request(`$SRV.PING.${SERVICE_NAME}`, "", { timeout: PROBE_TIMEOUT_MS })),
    failedRate(ctx).catch(() => null),
    openIncidents(ctx).catch(() => null),
    lastArtifacts(ctx).catch((): LastArtifacts => ({ risk_digest: null, platform_digest: null, backlog: null })),
  ]);
  const window = ctx.metrics()?.alertLoopWindow;
  return {
    online: !ctx.nc.isClosed() && heartbeat.fresh(),
    ts: ctx.now().toISOString(),
    node_id: ctx.nodeId,
    env: ctx.opsEnv,
    version: VERSION,
    config_digest: configDigest(ctx.policies),
    heartbeat_age_s: heartbeat.ageSeconds(),
    router,
    gateway,
    alerts_loop_slo: { p95_ms: window?.percentile(95) ?? null, samples: window?.size ?? 0, failed_rate: rate },
    open_incidents: incidents?.count ?? null,
    ...(incidents?.capped ? { open_incidents_capped: true } : {}),
    backends: backendsOf(ctx.stores),
    last_artifacts: artifacts,
  };
}

/** Answers `subjects.tools.monitorStatus` (any node) and `subjects.tools.monitorStatusOf(node_id)` (this node). */
export function serveMonitorStatus(ctx: MonitorStatusDeps, heartbeat: Heartbeat): () => void {
  const log = ctx.logger.child({ component: "monitor-status" });
  const subs = [ctx.subjects.tools.monitorStatus, ctx.subjects.tools.monitorStatusOf(ctx.nodeId)].map((subject) =>
    ctx.nc.subscribe(subject, {
      queue: "opsbus-monitor",
      callback: (err, m) => {
        if (err) return;
        void monitorStatus(ctx, heartbeat).then(
          (s) => m.respond(JSON.stringify(s)),
          (e: unknown) => log.warn({ err: e }, "monitor status failed"),
        );
      },
    }),
  );
  return () => subs.forEach((s) => s.unsubscribe());
}
