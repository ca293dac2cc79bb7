/**
 * Connecting to NATS with the credentials of ops/nats/accounts.conf, taken from the environment
 * (`NatsEnv`: a creds file, user + password, or a token, each secret also from a file) and TLS
 * when a CA or client certificate is configured. Secrets never reach a log line or an error: those
 * name the server URL (password masked) and the identity (`user opsbus`, `token`, `creds <file>`).
 */
import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { credsAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import { NatsEnv } from "../config/env.js";
import { ConfigError } from "../config/errors.js";
import { maskDsn, type Logger } from "../log.js";

export interface ConnectOptions {
  url: string;
  name: string;
  logger: Logger;
  /** Give up after this long on the first connection; reconnects afterwards are unlimited. */
  timeoutMs?: number;
  /** Credentials and TLS; default: read from the process environment. */
  auth?: NatsEnv;
}

/** What nats.js needs to authenticate, and a description of who connects that is safe to print. */
export interface NatsAuth {
  options: Pick<ConnectionOptions, "user" | "pass" | "token" | "authenticator" | "tls" | "inboxPrefix">;
  identity: string;
}

function readSecret(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new ConfigError("environment", [`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
}

/** One secret from `NAME` or `NAME_FILE`, never both. */
function secret(env: NatsEnv, name: "NATS_PASSWORD" | "NATS_TOKEN"): string | undefined {
  const file = env[`${name}_FILE`];
  if (env[name] !== undefined && file !== undefined) throw new ConfigError("environment", [`${name} and ${name}_FILE: set one, not both`]);
  return file !== undefined ? readSecret(`${name}_FILE`, file) : env[name];
}

/** Checks the combination and reads the files; a bad combination names the variables involved. */
export function natsAuthOptions(env: NatsEnv): NatsAuth {
  const password = secret(env, "NATS_PASSWORD");
  const token = secret(env, "NATS_TOKEN");
  const schemes = [env.NATS_CREDS && "NATS_CREDS", env.NATS_USER && "NATS_USER", token !== undefined && "NATS_TOKEN"].filter(Boolean);
  if (schemes.length > 1) throw new ConfigError("environment", [`${schemes.join(", ")}: choose one way to authenticate to NATS`]);
  if (password !== undefined && !env.NATS_USER) throw new ConfigError("environment", ["NATS_PASSWORD: set NATS_USER as well"]);
  if (Boolean(env.NATS_TLS_CERT) !== Boolean(env.NATS_TLS_KEY)) throw new ConfigError("environment", ["NATS_TLS_CERT and NATS_TLS_KEY: a client certificate needs both"]);

  const options: NatsAuth["options"] = {};
  let identity = "no credentials";
  if (env.NATS_CREDS) {
    const creds = readSecret("NATS_CREDS", env.NATS_CREDS);
    options.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
    identity = `creds ${env.NATS_CREDS}`;
  } else if (env.NATS_USER) {
    options.user = env.NATS_USER;
    if (password !== undefined) options.pass = password;
    identity = `user ${env.NATS_USER}`;
  } else if (token !== undefined) {
    options.token = token;
    identity = "token";
  }
  if (env.NATS_TLS_CA || env.NATS_TLS_CERT) {
    options.tls = {
      ...(env.NATS_TLS_CA ? { caFile: env.NATS_TLS_CA } : {}),
      ...(env.NATS_TLS_CERT ? { certFile: env.NATS_TLS_CERT, keyFile: env.NATS_TLS_KEY! } : {}),
    };
    identity += env.NATS_TLS_CERT ? ", TLS client certificate" : ", TLS";
  }
  if (env.NATS_INBOX_PREFIX) options.inboxPrefix = env.NATS_INBOX_PREFIX;
  return { options, identity };
}

/** The server list as safe to print: `nats://user:secret@host` → `nats://user:***@host`. */
export function printableUrl(url: string): string {
  return url.split(",").map((u) => maskDsn(u.trim())).join(",");
}

/** A first connection that failed, naming the server and the identity, never a secret. */
export class NatsConnectError extends Error {
  override name = "NatsConnectError";
  constructor(
    readonly url: string,
    readonly identity: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`cannot connect to NATS at ${printableUrl(url)} (${identity}): ${reason}`, { cause });
  }
}

/**
 * One connection with the environment's credentials; rejects with a NatsConnectError. For
 * short-lived clients (CLI); workers use connectNats.
 */
export async function openNats(opts: { url: string; name: string; timeoutMs?: number; auth?: NatsEnv; reconnect?: Partial<ConnectionOptions> }): Promise<NatsConnection> {
  const auth = natsAuthOptions(opts.auth ?? NatsEnv.parse(process.env));
  try {
    return await connect({
      servers: opts.url.split(",").map((u) => u.trim()),
      name: opts.name,
      timeout: opts.timeoutMs ?? 5000,
      ...auth.options,
      ...opts.reconnect,
    });
  } catch (err) {
    throw new NatsConnectError(opts.url, auth.identity, err);
  }
}

/** Connects and keeps reconnecting forever: a NATS restart must not end a worker. */
export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const nc = await openNats({
    url: opts.url,
    name: opts.name,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.auth ? { auth: opts.auth } : {}),
    reconnect: {
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 10_000,
      // Async stack traces cost ~a quarter of a busy worker's CPU (an Error per request); logs carry the context instead.
      noAsyncTraces: true,
    },
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect") opts.logger.warn({ nats: s.type, server: (s as { server?: string }).server }, `nats ${s.type}`);
      // A permissions violation names the subject: a user without a right opsbus needs shows here.
      else if (s.type === "error") opts.logger.error({ nats: s.type, error: s.error.message }, "nats error");
    }
  })().catch(() => undefined);
  return nc;
}
