import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../log.js";

export interface ConnectOptions {
  url: string;
  name: string;
  logger: Logger;
  /** Give up after this long on the first connection; reconnects afterwards are unlimited. */
  timeoutMs?: number;
}

/** Connects and keeps reconnecting forever: a NATS restart must not end a worker. */
export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: opts.url.split(","),
    name: opts.name,
    timeout: opts.timeoutMs ?? 5000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // Async stack traces cost ~a quarter of a busy worker's CPU (an Error per request); logs carry the context instead.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect") opts.logger.warn({ nats: s.type, server: (s as { server?: string }).server }, `nats ${s.type}`);
      else if (s.type === "error") opts.logger.error({ nats: s.type }, "nats error");
    }
  })().catch(() => undefined);
  return nc;
}
