/**
 * What the gateway role runs besides the tool service: the monitor status responder
 * (`subjects.tools.monitorStatus` and `monitorStatusOf(node_id)`), the nodes poller (`nodes.status`
 * events), and the HTTP listener when HTTP_PORT is set.
 */
import type { Ctx } from "../../app/context.js";
import type { GatewayDeps } from "../../gateway/types.js";
import { healthReport, queueDepths } from "../health.js";
import { edgeLimitsOf } from "../../http/edge.js";
import { startHttpListener, type HttpListener } from "../../http/server.js";
import { EventPublisher } from "../../nats/events.js";
import { NodesPoller } from "./nodes.js";
import { heartbeatOf, monitorStatus, serveMonitorStatus } from "./status.js";

export interface ControlPlane {
  /** Present when HTTP_PORT is set. */
  http?: HttpListener;
  poller: NodesPoller;
  stop(): Promise<void>;
}

export async function startControlPlane(ctx: Ctx, opts: { roles: string[]; gateway: GatewayDeps }): Promise<ControlPlane> {
  const logger = ctx.logger.child({ component: "control-plane" });
  const heartbeat = heartbeatOf(ctx.nc);
  const stopStatus = serveMonitorStatus(ctx, heartbeat);
  const poller = new NodesPoller({
    nc: ctx.nc,
    subjects: ctx.subjects,
    registry: ctx.policies.nodes,
    events: new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now),
    logger: logger.child({ component: "nodes-poller" }),
  }).start(ctx.env.NODES_POLL_INTERVAL_SEC * 1000);

  let http: HttpListener | undefined;
  if (ctx.env.HTTP_PORT !== undefined) {
    const metrics = ctx.metrics;
    metrics?.watchQueues(() => queueDepths(ctx));
    try {
      http = await startHttpListener(
        {
          gateway: opts.gateway,
          logger,
          ...(metrics ? { metrics: () => metrics.render() } : {}),
          health: () => healthReport(ctx, opts.roles),
          status: () => monitorStatus(ctx, heartbeat),
        },
        { host: ctx.env.HTTP_HOST, port: ctx.env.HTTP_PORT, edge: edgeLimitsOf(ctx.env) },
      );
    } catch (err) {
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
      await poller.stop();
      stopStatus();
    },
  };
}
