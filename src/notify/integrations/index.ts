/**
 * Receivers as the notifier uses them: config/receivers.yml with its secrets resolved from the
 * environment or files, each receiver an `Integration` ready to send, or off with the reason
 * (its variable or file unset or empty: not an error, `opsbus verify` warns about it). Every HTTP
 * receiver shares one pooled client; Slack receivers are paced per webhook URL.
 */
import { readFileSync } from "node:fs";
import type { EmailConfig, ReceiverConfig, ReceiverSettings, ReceiversPolicy, SecretRef } from "../../config/receivers.js";
import type { Logger } from "../../log.js";
import type { Integration, IntegrationKind } from "../types.js";
import { emailIntegration } from "./email.js";
import { HttpClient } from "./http.js";
import { teamsIntegration } from "./msteams.js";
import { slackPacers, type Pacers } from "./pacer.js";
import { pagerDutyIntegration } from "./pagerduty.js";
import { slackIntegration } from "./slack.js";
import { webhookIntegration } from "./webhook.js";

export type ReadSecretFile = (path: string) => string;

export interface BuildOptions {
  env: NodeJS.ProcessEnv;
  /** Reads a `*_file` secret (default: the file's UTF-8 text). */
  readFile?: ReadSecretFile;
  logger?: Logger;
  /** `opsbus/<version>`. */
  userAgent: string;
  /** The HTTP client to share (default: a new one, closed when the last integration closes). */
  http?: HttpClient;
  /** For signatures and Retry-After dates. */
  now?: () => number;
  /** Slack pacing (default: process-wide, one message per second per URL). */
  slackPacers?: Pacers;
  /** Open SMTP connections per email receiver (default 2). */
  smtpConnections?: number;
}

interface ReceiverBase {
  name: string;
  kind: IntegrationKind;
  settings: ReceiverSettings;
}
export type BuiltReceiver = ReceiverBase & ({ integration: Integration; disabled?: undefined } | { disabled: string; integration?: undefined });

type Resolved = { value: string } | { missing: string };

const readUtf8: ReadSecretFile = (path) => readFileSync(path, "utf8");

/** A secret's value, or why there is none (naming the variable or file, never a value). */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv, readFile: ReadSecretFile = readUtf8): Resolved {
  if ("env" in ref) {
    const raw = env[ref.env];
    if (raw === undefined) return { missing: `${ref.env} is not set` };
    const value = raw.trim();
    return value ? { value } : { missing: `${ref.env} is empty` };
  }
  let raw: string;
  try {
    raw = readFile(ref.file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { missing: `cannot read ${ref.file}${code ? ` (${code})` : ""}` };
  }
  const value = raw.trim();
  return value ? { value } : { missing: `${ref.file} is empty` };
}

const sourceOf = (ref: SecretRef): string => ("env" in ref ? ref.env : ref.file);

/** An http(s) URL from a secret, or why not (without quoting it). */
function urlFrom(ref: SecretRef, env: NodeJS.ProcessEnv, readFile: ReadSecretFile): { url: URL } | { missing: string } {
  const r = resolveSecret(ref, env, readFile);
  if ("missing" in r) return r;
  if (!URL.canParse(r.value)) return { missing: `${sourceOf(ref)} does not hold a URL` };
  const url = new URL(r.value);
  if (url.protocol !== "https:" && url.protocol !== "http:") return { missing: `${sourceOf(ref)} does not hold an http(s) URL` };
  return { url };
}

/** Every secret a receiver needs, resolved; or the first reason it is off. */
type Secrets =
  | { integration: "webhook"; url: URL; hmacSecret?: string }
  | { integration: "slack" | "msteams"; url: URL }
  | { integration: "pagerduty"; url: URL; routingKey: string }
  | { integration: "email"; config: EmailConfig; password?: string };

function resolveReceiver(r: ReceiverConfig, env: NodeJS.ProcessEnv, readFile: ReadSecretFile): Secrets | { missing: string } {
  switch (r.integration) {
    case "webhook": {
      const u = urlFrom(r.config.url, env, readFile);
      if ("missing" in u) return u;
      if (!r.config.hmac_secret) return { integration: "webhook", url: u.url };
      const s = resolveSecret(r.config.hmac_secret, env, readFile);
      return "missing" in s ? s : { integration: "webhook", url: u.url, hmacSecret: s.value };
    }
    case "slack":
    case "msteams": {
      const u = urlFrom(r.config.url, env, readFile);
      return "missing" in u ? u : { integration: r.integration, url: u.url };
    }
    case "pagerduty": {
      const k = resolveSecret(r.config.routing_key, env, readFile);
      return "missing" in k ? k : { integration: "pagerduty", url: new URL(r.config.url), routingKey: k.value };
    }
    case "email": {
      if (!r.config.auth) return { integration: "email", config: r.config };
      const p = resolveSecret(r.config.auth.password, env, readFile);
      return "missing" in p ? p : { integration: "email", config: r.config, password: p.value };
    }
  }
}

export interface ReceiverProblem {
  receiver: string;
  integration: IntegrationKind;
  reason: string;
  /** For `opsbus verify`: `receiver "default" (webhook) is off: OPSBUS_WEBHOOK_URL is not set; nobody routed to it is notified`. */
  message: string;
}

/** The receivers that are off, and why: what `verify` warns about. */
export function receiverProblems(policy: ReceiversPolicy, env: NodeJS.ProcessEnv, readFile: ReadSecretFile = readUtf8): ReceiverProblem[] {
  return policy.receivers.flatMap((r) => {
    const s = resolveReceiver(r, env, readFile);
    if (!("missing" in s)) return [];
    return [{ receiver: r.name, integration: r.integration, reason: s.missing, message: `receiver "${r.name}" (${r.integration}) is off: ${s.missing}; nobody routed to it is notified` }];
  });
}

/** Each receiver by name: ready to send, or off with the reason. */
export function buildIntegrations(policy: ReceiversPolicy, opts: BuildOptions): Map<string, BuiltReceiver> {
  const readFile = opts.readFile ?? readUtf8;
  const now = opts.now ?? Date.now;
  const pacers = opts.slackPacers ?? slackPacers;
  let own: HttpClient | undefined;
  /** The shared client and a release for one integration: an injected client stays its owner's to close. */
  const httpClient = (): { http: HttpClient; release: () => Promise<void> } => {
    if (opts.http) return { http: opts.http, release: async () => undefined };
    own ??= new HttpClient({ userAgent: opts.userAgent, now });
    return { http: own, release: own.retain() };
  };
  const out = new Map<string, BuiltReceiver>();
  for (const r of policy.receivers) {
    const base: ReceiverBase = { name: r.name, kind: r.integration, settings: r.settings };
    const s = resolveReceiver(r, opts.env, readFile);
    if ("missing" in s) {
      opts.logger?.warn({ receiver: r.name, integration: r.integration, reason: s.missing }, "receiver is off: nobody routed to it is notified");
      out.set(r.name, { ...base, disabled: s.missing });
      continue;
    }
    const timeoutMs = r.settings.timeoutMs;
    const http = (): { name: string; http: HttpClient; timeoutMs: number; release: () => Promise<void> } => ({ name: r.name, timeoutMs, ...httpClient() });
    let integration: Integration;
    switch (s.integration) {
      case "email":
        integration = emailIntegration({
          name: r.name,
          config: s.config,
          timeoutMs,
          ...(s.password !== undefined ? { password: s.password } : {}),
          ...(opts.logger ? { logger: opts.logger } : {}),
          ...(opts.smtpConnections ? { maxConnections: opts.smtpConnections } : {}),
        });
        break;
      case "webhook":
        integration = webhookIntegration({ ...http(), url: s.url, now, ...(s.hmacSecret ? { hmacSecret: s.hmacSecret } : {}) });
        break;
      case "pagerduty":
        integration = pagerDutyIntegration({ ...http(), url: s.url, routingKey: s.routingKey });
        break;
      case "slack":
        integration = slackIntegration({ ...http(), url: s.url, pacer: pacers.of(s.url.href) });
        break;
      case "msteams":
        integration = teamsIntegration({ ...http(), url: s.url });
        break;
    }
    out.set(r.name, { ...base, integration });
  }
  return out;
}

/** Closes every built integration (pooled HTTP connections, SMTP pools). */
export async function closeIntegrations(receivers: ReadonlyMap<string, BuiltReceiver>): Promise<void> {
  await Promise.all([...receivers.values()].map((r) => r.integration?.close?.()));
}

export { HttpClient } from "./http.js";
export { Pacers } from "./pacer.js";
