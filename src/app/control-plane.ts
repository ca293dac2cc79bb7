/**
 * What the gateway role runs besides the tool service: the monitor status responder
 * (`subjects.tools.monitorStatus` and `monitorStatusOf(node_id)`), the nodes poller (`nodes.status`
 * events), and the HTTP listener when HTTP_PORT is set (with the operator console: its sessions bucket
 * and its one live-event feed).
 */
import type { Ctx } from "./context.js";
import type { GatewayDeps } from "../gateway/types.js";
import { healthReport, queueDepths } from "../observability/health.js";
import { edgeLimitsOf } from "../http/edge.js";
import { startHttpListener, type HttpListener } from "../http/server.js";
import { incidentPaths } from "../incidents/paths.js";
import { NodesPoller } from "../observability/monitor/nodes.js";
import { heartbeatOf, monitorStatus, serveMonitorStatus, type MonitorStatusDeps } from "../observability/monitor/status.js";
import { pagerDutyDepsOf } from "../http/pagerduty.js";
import type { AckLinkDeps } from "../http/ack-link.js";
import type { Logger } from "../log.js";
import { ackLinksFrom } from "../notify/ack-link.js";
import { ackLinkBucketName, openKvUsedAckLinks } from "../stores/incidents/ack-links-kv.js";
import { appDeps } from "./deps.js";
import { sessionPolicy } from "../console/session.js";
import type { ConsoleDeps } from "../http/console/routes.js";
import { EventFeed } from "../http/console/events.js";
import { ConsoleSessions } from "../http/console/sessions.js";
import { consoleSessionBucketName, openKvSessionStore } from "../http/console/session-kv.js";

/** What monitor status reads, from the process context. */
export function monitorStatusDeps(ctx: Ctx): MonitorStatusDeps {
  return {
    nc: ctx.nc,
    jsm: ctx.jsm,
    subjects: ctx.subjects,
    stores: ctx.stores,
    policies: ctx.policies,
    nodeId: ctx.env.NODE_ID,
    opsEnv: ctx.env.OPS_ENV,
    reportsDir: incidentPaths(ctx.env).reportsDir,
    logger: ctx.logger,
    metrics: () => ctx.metrics,
    now: ctx.now,
  };
}

/** Ack links on the HTTP listener: the secret, and the KV bucket of used links (created here), or off. */
async function ackLinkDepsOf(ctx: Ctx, logger: Logger): Promise<AckLinkDeps | undefined> {
  const links = ackLinksFrom(ctx.env);
  if (!links) {
    logger.info({ env: ctx.env.OPS_ENV }, "ack links off: OPSBUS_ACK_SECRET is unset");
    return undefined;
  }
  const used = await openKvUsedAckLinks({
    js: ctx.js,
    jsm: ctx.jsm,
    bucket: ackLinkBucketName(ctx.subjects.naming.streamPrefix),
    replicas: ctx.env.OPS_STREAM_REPLICAS,
    ttlMs: links.ttlMs,
    now: ctx.now,
  });
  return { secret: links.secret, used, incidents: ctx.stores.incidents, now: ctx.now };
}

/** The console: sessions in the `<PREFIX>_CONSOLE_SESSIONS` KV bucket (created here), live events off OPS_EVENTS. */
async function consoleDepsOf(ctx: Ctx, logger: Logger): Promise<ConsoleDeps> {
  const policy = sessionPolicy(ctx.env.CONSOLE_IDLE_MINUTES, ctx.env.CONSOLE_ABSOLUTE_HOURS);
  const store = await openKvSessionStore({
    js: ctx.js,
    jsm: ctx.jsm,
    bucket: consoleSessionBucketName(ctx.subjects.naming.streamPrefix),
    replicas: ctx.env.OPS_STREAM_REPLICAS,
    ttlMs: policy.absoluteMs,
  });
  const events = new EventFeed({ js: ctx.js, jsm: ctx.jsm, stream: ctx.subjects.events.stream, logger: logger.child({ component: "console-events" }) });
  return { sessions: new ConsoleSessions(store, policy, ctx.now), events, ...(ctx.env.OPSBUS_PUBLIC_URL ? { publicUrl: ctx.env.OPSBUS_PUBLIC_URL } : {}) };
}

export interface ControlPlane {
  /** Present when HTTP_PORT is set. */
  http?: HttpListener;
  poller: NodesPoller;
  stop(): Promise<void>;
}

export async function startControlPlane(ctx: Ctx, opts: { roles: string[]; gateway: GatewayDeps }): Promise<ControlPlane> {
  const logger = ctx.logger.child({ component: "control-plane" });
  const heartbeat = heartbeatOf(ctx.nc);
  const status = monitorStatusDeps(ctx);
  const stopStatus = serveMonitorStatus(status, heartbeat);
  const poller = new NodesPoller({
    nc: ctx.nc,
    subjects: ctx.subjects,
    registry: ctx.policies.nodes,
    events: appDeps(ctx).events,
    logger: logger.child({ component: "nodes-poller" }),
  }).start(ctx.env.NODES_POLL_INTERVAL_SEC * 1000);

  let http: HttpListener | undefined;
  let consoleDeps: ConsoleDeps | undefined;
  if (ctx.env.HTTP_PORT !== undefined) {
    const metrics = ctx.metrics;
    metrics?.watchQueues(() => queueDepths(ctx));
    try {
      const ackLinks = await ackLinkDepsOf(ctx, logger);
      consoleDeps = await consoleDepsOf(ctx, logger);
      http = await startHttpListener(
        {
          gateway: opts.gateway,
          logger,
          ...(metrics ? { metrics: () => metrics.render() } : {}),
          health: () => healthReport(ctx, opts.roles),
          status: () => monitorStatus(status, heartbeat),
          alertmanager: { nc: ctx.nc, js: ctx.js, jsm: ctx.jsm, subjects: ctx.subjects, alerts: ctx.stores.alerts, policies: ctx.policies, now: ctx.now },
          pagerduty: pagerDutyDepsOf({
            js: ctx.js,
            subjects: ctx.subjects,
            policies: ctx.policies,
            alerts: ctx.stores.alerts,
            incidents: ctx.stores.incidents,
            now: ctx.now,
          }),
          ...(ackLinks ? { ackLinks } : {}),
          console: consoleDeps,
        },
        { host: ctx.env.HTTP_HOST, port: ctx.env.HTTP_PORT, edge: edgeLimitsOf(ctx.env) },
      );
    } catch (err) {
      await consoleDeps?.events?.stop();
      stopStatus();
      await poller.stop();
      throw err;
    }
  }
  return {
    ...(http ? { http } : {}),
    poller,
    async stop() {
      await http?.close();
      await consoleDeps?.events?.stop();
      await poller.stop();
      stopStatus();
    },
  };
}
