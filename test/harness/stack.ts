/**
 * A whole opsbus (gateway + workers) in this test process, against a throwaway nats-server, with
 * policy overrides and a chosen store backend. Tests call tools and publish alerts through it.
 */
import { connect } from "@nats-io/transport-node";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnv, STORE_ENV_PREFIX } from "../../src/config/env.js";
import { loadPolicies } from "../../src/config/load.js";
import type { Policies } from "../../src/config/policies.js";
import { run, type Running } from "../../src/main.js";
import type { Role } from "../../src/app/roles.js";
import type { EventEnvelope, ToolReply } from "../../src/subjects/index.js";
import { captureLogger } from "./logs.js";
import { startNatsServer, type NatsServerHandle } from "./nats.js";

export type PolicyOverrides = { [K in keyof Policies]?: Partial<{ [P in keyof Policies[K]]: Partial<Policies[K][P]> | Policies[K][P] }> };

function merge<T>(base: T, over: unknown): T {
  if (!over || typeof over !== "object" || Array.isArray(over)) return (over ?? base) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out as T;
}

/** A clock that follows real time, shifted by whatever the test advanced it. */
export function testClock(): { now: () => Date; advance(minutes: number): void } {
  let offsetMs = 0;
  return { now: () => new Date(Date.now() + offsetMs), advance: (minutes) => void (offsetMs += minutes * 60_000) };
}

export interface StackOptions {
  roles?: Role[];
  policies?: PolicyOverrides;
  env?: Record<string, string>;
  nats?: NatsServerHandle;
  /** A controllable clock (see `testClock`); default: real time. */
  now?: () => Date;
}

export interface Stack {
  nats: NatsServerHandle;
  running: Running;
  client: NatsConnection;
  js: JetStreamClient;
  logs: ReturnType<typeof captureLogger>;
  dataDir: string;
  call<T = unknown>(tool: string, action: string, params?: Record<string, unknown>, opts?: { agent?: string; key?: string }): Promise<ToolReply<T>>;
  publishAlert(alert: unknown, msgId?: string): Promise<number>;
  /** Every event published since the stack started, in order. */
  events(type?: string): EventEnvelope[];
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const nats = opts.nats ?? (await startNatsServer());
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-stack-"));
  // Every store in memory, except in prod, which refuses memory stores: JSONL under the temp dir there.
  const backend = opts.env?.OPS_ENV === "prod" ? "jsonl" : "memory";
  const backends = Object.fromEntries(Object.values(STORE_ENV_PREFIX).map((prefix) => [`${prefix}_BACKEND`, backend]));
  // An ingest-only stack runs in the test's own process: it must not lower the test's CPU priority.
  const env = loadEnv({ NATS_URL: nats.url, DATA_DIR: dataDir, CONFIG_DIR: "config", ...backends, LOG_LEVEL: "warn", OPSBUS_INGEST_NICE: "0", ...opts.env });
  const policies = merge(loadPolicies("config"), opts.policies);
  const logs = captureLogger(env.LOG_LEVEL);
  const running = await run(opts.roles ?? ["gateway", "alerts-in"], { env, policies, logger: logs.logger, ...(opts.now ? { now: opts.now } : {}) });
  const client = await connect({ servers: nats.url });
  const js = jetstream(client);
  const subjects = running.ctx.subjects;
  const seen: EventEnvelope[] = [];
  const sub = client.subscribe(subjects.events.wildcard, { callback: (_e, m) => void seen.push(m.json<EventEnvelope>()) });
  await client.flush();

  return {
    nats,
    running,
    client,
    js,
    logs,
    dataDir,
    async call(tool, action, params = {}, o = {}) {
      const h = headers();
      if (o.key) h.set("Authorization", `Bearer ${o.key}`);
      const body = JSON.stringify({ action, params, ...(o.agent ? { agent_id: o.agent } : {}) });
      const reply = await client.request(subjects.tools.of(tool), body, { timeout: 10_000, headers: h });
      return reply.json();
    },
    async publishAlert(alert, msgId) {
      const service = (alert as { service?: unknown })?.service;
      const subject = subjects.alerts.in(typeof service === "string" ? service : "unknown");
      const data = typeof alert === "string" || alert instanceof Uint8Array ? alert : JSON.stringify(alert);
      return (await js.publish(subject, data, msgId ? { msgID: msgId } : undefined)).seq;
    },
    events: (type) => (type ? seen.filter((e) => e.type === type) : [...seen]),
    async stop() {
      sub.unsubscribe();
      await client.close();
      await running.stop();
      if (!opts.nats) await nats.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
