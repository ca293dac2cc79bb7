import type { Ctx } from "./context.js";
import { consumerConfigs } from "./nats/provision.js";
import { VERSION } from "./version.js";

export interface QueueDepth {
  stream: string;
  consumer: string;
  /** Not yet delivered. */
  pending: number;
  /** Delivered and not yet settled (held by claimers or in flight). */
  ack_pending: number;
  depth: number;
  redelivered: number;
}

export async function queueDepths(ctx: Ctx): Promise<QueueDepth[]> {
  const out: QueueDepth[] = [];
  for (const { stream, config } of consumerConfigs(ctx.subjects, ctx.policies.alertRouting)) {
    const consumer = config.durable_name as string;
    const info = await ctx.jsm.consumers.info(stream, consumer);
    out.push({
      stream,
      consumer,
      pending: info.num_pending,
      ack_pending: info.num_ack_pending,
      depth: info.num_pending + info.num_ack_pending,
      redelivered: info.num_redelivered,
    });
  }
  return out;
}

export async function healthReport(ctx: Ctx, roles: string[]) {
  let queues: QueueDepth[] | { error: string };
  try {
    queues = await queueDepths(ctx);
  } catch (err) {
    queues = { error: (err as Error).message };
  }
  return {
    ok: !("error" in queues),
    node_id: ctx.env.NODE_ID,
    env: ctx.env.OPS_ENV,
    version: VERSION,
    nats: { server_version: ctx.features.version },
    roles,
    backends: { alerts: ctx.stores.alerts.backendName, audit: ctx.stores.audit.backendName },
    queues,
    ts: ctx.now().toISOString(),
  };
}

/** `ops.health`: request-reply, answered by every process in a queue group. */
export function serveHealth(ctx: Ctx, roles: string[]): () => void {
  const sub = ctx.nc.subscribe(ctx.subjects.tools.health, {
    queue: "opsbus-health",
    callback: (err, m) => {
      if (err) return;
      void healthReport(ctx, roles).then((r) => m.respond(JSON.stringify(r)));
    },
  });
  return () => sub.unsubscribe();
}
