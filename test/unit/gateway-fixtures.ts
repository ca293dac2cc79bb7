/** Shared fakes for the gateway unit tests: a tiny tool, policies, an in-memory AuditStore, a log sink. */
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { loadPolicies } from "../../src/config/load.js";
import { createLogger, type Logger } from "../../src/log.js";
import { OpsError } from "../../src/errors.js";
import { DataGovernance, RbacMatrix, ToolLimits, type Policies } from "../../src/config/policies.js";
import type { OpsEnv } from "../../src/config/env.js";
import type { AuditQuery, AuditRecord, AuditRow, AuditStore } from "../../src/audit/store.js";
import { action, toolRegistry, type ToolDef } from "../../src/tools/types.js";
import { AuditWriter, executeTool, RateLimiter, type GatewayDeps, type ToolCall } from "../../src/gateway/index.js";
import type { ToolReply } from "../../src/subjects/index.js";

/** `say` echoes (read), `act` does something per `mode` (write). */
export const echoTool: ToolDef = {
  name: "echo_tool",
  description: "test tool",
  actions: {
    say: action({
      entitlement: "tools.echo.read",
      description: "echo text",
      params: z.looseObject({ text: z.string().max(100) }),
      async handler(p, h) {
        return { text: p.text, agent: h.caller.agent_id, role: h.caller.role, authenticated: h.caller.authenticated };
      },
    }),
    act: action({
      entitlement: "tools.echo.write",
      description: "ok | conflict | crash | leak | hang | big",
      params: z.strictObject({ mode: z.enum(["ok", "conflict", "crash", "leak", "hang", "big"]) }),
      async handler(p, h) {
        switch (p.mode) {
          case "ok":
            return { done: true };
          case "conflict":
            throw new OpsError("conflict", "already done", { id: "x1" });
          case "crash":
            throw new Error("db password=hunter2 at postgres://app:hunter2@db/ops exploded");
          case "leak":
            throw new OpsError("unavailable", "backend postgres://app:hunter2@db/ops refused Authorization: Bearer sk-live-123");
          case "big":
            return { blob: "x".repeat(5000) };
          case "hang":
            hangs.push(h.signal);
            // Ignores the signal on purpose: the deadline must still answer.
            return new Promise(() => undefined);
        }
      },
    }),
  },
};

/** Signals handed to `act hang` handlers, to check they were aborted. */
export const hangs: AbortSignal[] = [];

export const rbac = RbacMatrix.parse({
  roles: {
    reader: { entitlements: ["tools.echo.read"] },
    writer: { entitlements: ["tools.echo.read", "tools.echo.write"] },
    service: { entitlements: ["tools.echo.read", "tools.echo.write"] },
  },
  agents: { alice: "writer", bob: "reader", carol: "writer", svc: "service" },
  default_role: "reader",
});

export const KEYS = new Map([
  ["key-alice", "alice"],
  ["key-bob", "bob"],
]);

export class FakeAuditStore implements AuditStore {
  readonly backendName = "FakeAuditStore";
  records: AuditRecord[] = [];
  appendCalls = 0;
  /** The next `failAppends` appends reject. */
  failAppends = 0;

  async init(): Promise<void> {}
  async close(): Promise<void> {}
  async append(records: AuditRecord[]): Promise<void> {
    this.appendCalls += 1;
    if (this.failAppends > 0) {
      this.failAppends -= 1;
      throw new Error("audit db down");
    }
    this.records.push(...records);
  }
  async query(q: AuditQuery): Promise<AuditRecord[]> {
    return this.records
      .filter(
        (r) =>
          (!q.since || r.ts >= q.since) &&
          (!q.until || r.ts < q.until) &&
          (!q.agent_id || r.agent_id === q.agent_id) &&
          (!q.tool || r.tool === q.tool) &&
          (!q.action || r.action === q.action) &&
          (!q.decision || r.decision === q.decision) &&
          (!q.status || r.status === q.status),
      )
      .sort((a, b) => a.ts.localeCompare(b.ts))
      .slice(0, q.limit ?? 100);
  }
  async purgeOlderThan(cutoff: Date): Promise<number> {
    const before = this.records.length;
    this.records = this.records.filter((r) => r.ts >= cutoff.toISOString());
    return before - this.records.length;
  }
  async exportRows(): Promise<AuditRow[]> {
    return this.records.map((data) => ({ kind: "audit", data }));
  }
  async importRows(rows: AuditRow[]): Promise<void> {
    this.records.push(...rows.map((r) => r.data));
  }
  async clearRows(): Promise<void> {
    this.records = [];
  }
}

/** A logger whose lines tests can read back. */
export function capturedLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
  return { logger, lines };
}

export interface Harness {
  deps: GatewayDeps;
  store: FakeAuditStore;
  writer: AuditWriter;
  lines: string[];
  clock: { ms: number };
  call(body: unknown, extra?: Partial<ToolCall>): Promise<ToolReply>;
  /** Flushes the writer and returns every audit record so far. */
  audited(): Promise<AuditRecord[]>;
}

export function harness(opts: { opsEnv?: OpsEnv; limits?: unknown; tools?: ToolDef[] } = {}): Harness {
  const store = new FakeAuditStore();
  const { logger, lines } = capturedLogger();
  const writer = new AuditWriter(store, logger);
  const clock = { ms: Date.parse("2026-03-02T10:00:00.000Z") };
  const deps: GatewayDeps = {
    registry: toolRegistry(opts.tools ?? [echoTool]),
    policies: {
      rbac,
      toolLimits: ToolLimits.parse(
        opts.limits ?? {
          defaults: { max_payload_bytes: 1024, timeout_ms: 1000, rate_per_minute: 600, burst: 50 },
          tools: { echo_tool: { timeout_ms: 50 } },
        },
      ),
      dataGovernance: DataGovernance.parse({}),
    },
    opsEnv: opts.opsEnv ?? "dev",
    apiKeys: KEYS,
    audit: writer,
    logger,
    nodeId: "node-test",
    now: () => new Date(clock.ms),
    rateLimiter: new RateLimiter(),
  };
  return {
    deps,
    store,
    writer,
    lines,
    clock,
    call: (body, extra = {}) =>
      executeTool(deps, { tool: "echo_tool", channel: "nats", headers: {}, ...extra, body: encode(body) }),
    async audited() {
      await writer.flush();
      return store.records;
    },
  };
}

/** Objects are sent as JSON bytes, as NATS delivers them; bytes and strings pass as they are. */
export function encode(body: unknown): unknown {
  if (body instanceof Uint8Array || typeof body === "string") return body;
  return new TextEncoder().encode(JSON.stringify(body));
}

export function bearer(key: string): Record<string, string> {
  return { Authorization: `Bearer ${key}` };
}

/** The error of a failed reply (fails the test on success). */
export function errorOf(reply: ToolReply): { code: string; message: string; details?: unknown } {
  if (reply.ok) throw new Error(`expected an error, got ${JSON.stringify(reply)}`);
  return reply.error;
}

export function resultOf<T = Record<string, unknown>>(reply: ToolReply): T {
  if (!reply.ok) throw new Error(`expected success, got ${JSON.stringify(reply)}`);
  return reply.result as T;
}

/** The shipped config dir, loaded from a temp copy; a missing alert_routing_policy.yml (owned elsewhere) is empty. */
export function loadShippedPolicies(): Policies {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-config-"));
  try {
    cpSync(join(process.cwd(), "config"), dir, { recursive: true });
    if (!existsSync(join(dir, "alert_routing_policy.yml"))) writeFileSync(join(dir, "alert_routing_policy.yml"), "");
    return loadPolicies(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Calls one tool through the whole gateway path (auth, RBAC, limits, audit) in dev, with the
 * shipped policies and no rate limit: what a tool's unit tests need to exercise its actions.
 */
export function toolCaller(tool: ToolDef, now: () => Date): { call(agent_id: string, action: string, params?: Record<string, unknown>): Promise<ToolReply>; lines: string[] } {
  const { logger, lines } = capturedLogger();
  const deps: GatewayDeps = {
    registry: toolRegistry([tool]),
    policies: { ...loadShippedPolicies(), toolLimits: ToolLimits.parse({ defaults: { rate_per_minute: 1_000_000, burst: 1_000_000 } }) },
    opsEnv: "dev",
    apiKeys: new Map(),
    audit: new AuditWriter(new FakeAuditStore(), logger),
    logger,
    nodeId: "n1",
    now,
  };
  return { call: (agent_id, action, params = {}) => executeTool(deps, { tool: tool.name, channel: "nats", body: { action, params, agent_id } }), lines };
}
