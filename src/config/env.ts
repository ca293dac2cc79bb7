import { z } from "zod";
import { ConfigError, formatIssues } from "./errors.js";

export const BACKENDS = ["postgres", "jsonl", "memory", "auto"] as const;
export type BackendKind = (typeof BACKENDS)[number];
export const OPS_ENVS = ["dev", "staging", "prod"] as const;
export type OpsEnv = (typeof OPS_ENVS)[number];

/** Stores that read `<PREFIX>_BACKEND` and `<PREFIX>_DATABASE_URL` (falling back to `DATABASE_URL`). */
export const STORE_ENV_PREFIX = { alerts: "ALERT", audit: "AUDIT", incidents: "INCIDENT", risk: "RISK", jobs: "JOB", backlog: "BACKLOG" } as const;
export type StoreName = keyof typeof STORE_ENV_PREFIX;

/**
 * How opsbus authenticates to NATS (ops/nats/accounts.conf): a creds file, user + password, or a
 * token; secrets may come from files (`*_FILE`, e.g. Docker secrets). TLS when a CA or client
 * certificate is given. Combinations are checked by src/nats/connect.ts (natsAuthOptions).
 */
export const NatsEnv = z.object({
  NATS_CREDS: z.string().min(1).optional(),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_PASSWORD_FILE: z.string().min(1).optional(),
  NATS_TOKEN: z.string().min(1).optional(),
  NATS_TOKEN_FILE: z.string().min(1).optional(),
  NATS_TLS_CA: z.string().min(1).optional(),
  NATS_TLS_CERT: z.string().min(1).optional(),
  NATS_TLS_KEY: z.string().min(1).optional(),
  /** The user's private inbox prefix, e.g. `_INBOX_agent` (replies arrive only there). */
  NATS_INBOX_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/, "one subject token, e.g. _INBOX_agent").optional(),
});
export type NatsEnv = z.infer<typeof NatsEnv>;

/**
 * Bounds of the HTTP edge. 768 connections leave room under a `ulimit -n` of 1024 for NATS,
 * Postgres pools (one per store), JSONL files, Node's own descriptors and the metrics listener (64).
 */
export const HTTP_EDGE_DEFAULTS = {
  maxConnections: 768,
  idleTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  bodyLimitBytes: 1024 * 1024,
} as const;

/** Past this many records held in process memory, a store belongs on Postgres (health warns). */
export const JSONL_WARN_RECORDS_DEFAULT = 50_000;

const Env = z.object({
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  ...NatsEnv.shape,
  OPS_ENV: z.enum(OPS_ENVS).default("dev"),
  DATA_DIR: z.string().default("./data"),
  CONFIG_DIR: z.string().default("./config"),
  /** Incident artifacts (`<dir>/<incident_id>/<name>`); default `<DATA_DIR>/incidents`. */
  INCIDENT_ARTIFACTS_DIR: z.string().optional(),
  /** Reports such as `incidents/weekly/YYYY-WW.md`; default `<DATA_DIR>/reports`. */
  REPORTS_DIR: z.string().optional(),
  /** The task registry the scheduler and job runner read (default ops/task_registry.yml). */
  TASK_REGISTRY: z.string().default("ops/task_registry.yml"),
  OPS_SUBJECT_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, "a lowercase token such as ops")
    .default("ops"),
  NODE_ID: z.string().default("node1"),
  /** Replicas for streams (and their consumers): 3 on a 3-node cluster so any one node may fail. */
  OPS_STREAM_REPLICAS: z.coerce.number().int().refine((n) => [1, 3, 5].includes(n), "1, 3 or 5").default(1),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Seconds between attempts to get back to Postgres while `auto` runs on its JSONL fallback. */
  STORE_RETRY_INTERVAL_SEC: z.coerce.number().positive().default(300),
  /** `agent=key,agent2=key2`: bearer keys; required for staging and prod. */
  OPSBUS_API_KEYS: z.string().default(""),
  /** `0` disables starting a local nats-server when none answers (containers, CI). */
  OPSBUS_START_NATS: z.enum(["0", "1"]).default("1"),
  /** The gateway's HTTP listener (/metrics, /healthz, /monitor/status, /v1/tools/execute); off when unset. */
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  /** The HTTP edge of every listener (src/http/edge.ts): connections held at once, beyond which new ones are dropped. */
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(HTTP_EDGE_DEFAULTS.maxConnections),
  /** A connection that sends no request (no byte yet, or idle between keep-alive requests) is closed after this. */
  HTTP_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1).default(HTTP_EDGE_DEFAULTS.idleTimeoutMs),
  /** Request headers must be complete this long after the request's first byte (408 otherwise). */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1).default(HTTP_EDGE_DEFAULTS.headersTimeoutMs),
  /** The whole request, body included, must arrive within this (408 otherwise); the handler's time is not counted. */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).default(HTTP_EDGE_DEFAULTS.requestTimeoutMs),
  /** Largest body on routes other than the tool API, whose bound comes from tool_limits.yml. */
  HTTP_BODY_LIMIT_BYTES: z.coerce.number().int().min(1).default(HTTP_EDGE_DEFAULTS.bodyLimitBytes),
  /** Seconds between polls of config/nodes_registry.yml's nodes (the nodes.status event). */
  NODES_POLL_INTERVAL_SEC: z.coerce.number().positive().default(30),
  /** How long a drain (SIGTERM/SIGINT/SIGHUP) may take before what is still in flight is abandoned and the process exits 1. */
  DRAIN_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** An ingest worker running on its own (`worker alerts-in`) adds this to its nice value: the intake is answered first. */
  OPSBUS_INGEST_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** Every process's own /metrics and /healthz (its roles' consumers, its metrics); off when unset. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  /** A consumer whose ack floor and deliveries do not move this long while work waits is reported stalled. */
  HEALTH_STALL_SECONDS: z.coerce.number().positive().default(60),
  /** A memory or JSONL store holding more records than this is a health warning (it keeps working, in RAM). */
  JSONL_WARN_RECORDS: z.coerce.number().int().min(1).default(JSONL_WARN_RECORDS_DEFAULT),
  /**
   * The HMAC key of ack links (≥ ACK_SECRET_MIN_BYTES bytes; checked in loadEnv so the value is never
   * echoed). Unset: dev uses a fixed, public one; staging and prod send no ack links.
   */
  OPSBUS_ACK_SECRET: z.string().optional(),
  /** Where people reach the gateway's HTTP listener (links in notifications); default http://HTTP_HOST:HTTP_PORT. */
  OPSBUS_PUBLIC_URL: z.url({ protocol: /^https?$/, error: "an http(s) URL, e.g. https://opsbus.example.com" }).optional(),
  /** How long an ack link works (default 24 h). */
  OPSBUS_ACK_LINK_TTL_MINUTES: z.coerce.number().int().min(1).max(30 * 24 * 60).optional(),
  /** A console session ends after this long without a request (default 30). */
  CONSOLE_IDLE_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(30),
  /** A console session ends this long after login however busy (default 12). */
  CONSOLE_ABSOLUTE_HOURS: z.coerce.number().int().min(1).max(30 * 24).default(12),
});

/** OPSBUS_ACK_SECRET's least length: an HMAC-SHA256 key shorter than its output is weak. */
export const ACK_SECRET_MIN_BYTES = 32;

export interface StoreEnv {
  backend: BackendKind;
  databaseUrl: string | undefined;
}

export interface RuntimeEnv extends z.infer<typeof Env> {
  stores: Record<StoreName, StoreEnv>;
  apiKeys: Map<string, string>;
}

function parseKeys(raw: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const pair of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at <= 0 || at === pair.length - 1) {
      throw new ConfigError("environment", ["OPSBUS_API_KEYS: each entry must be agent=key"]);
    }
    keys.set(pair.slice(at + 1), pair.slice(0, at));
  }
  return keys;
}

/** Reads the process environment once; a bad value stops start-up with a message naming it. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  const parsed = Env.safeParse(source);
  if (!parsed.success) throw new ConfigError("environment", formatIssues(parsed.error.issues, source));
  const stores = {} as Record<StoreName, StoreEnv>;
  for (const [name, prefix] of Object.entries(STORE_ENV_PREFIX) as [StoreName, string][]) {
    const backendRaw = source[`${prefix}_BACKEND`] ?? "auto";
    const backend = z.enum(BACKENDS).safeParse(backendRaw);
    if (!backend.success) {
      throw new ConfigError("environment", [
        `${prefix}_BACKEND: got ${JSON.stringify(backendRaw)}; allowed: ${BACKENDS.join(", ")}`,
      ]);
    }
    stores[name] = {
      backend: backend.data,
      databaseUrl: source[`${prefix}_DATABASE_URL`] || source.DATABASE_URL || undefined,
    };
  }
  const ackSecret = parsed.data.OPSBUS_ACK_SECRET;
  if (ackSecret && Buffer.byteLength(ackSecret, "utf8") < ACK_SECRET_MIN_BYTES) {
    // Its length only, never the value.
    throw new ConfigError("environment", [
      `OPSBUS_ACK_SECRET: ${Buffer.byteLength(ackSecret, "utf8")} bytes; at least ${ACK_SECRET_MIN_BYTES} needed (e.g. openssl rand -hex 32)`,
    ]);
  }
  return { ...parsed.data, stores, apiKeys: parseKeys(parsed.data.OPSBUS_API_KEYS) };
}
