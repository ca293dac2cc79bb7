/**
 * config/receivers.yml: where notifications go. Each receiver has a unique name (routes name it),
 * exactly one integration (webhook, slack, pagerduty, email, msteams) and optional delivery
 * settings. Secrets (URLs carrying tokens, routing keys, SMTP passwords, HMAC keys) are read from
 * an environment variable or a file named here, never written in the file itself: a literal one
 * is refused, and blanked out of the parsed YAML first so no error message can echo it.
 */
import { z } from "zod";
import { INTEGRATIONS, type IntegrationKind } from "../notify/types.js";
import { DurationText } from "../util/duration.js";
import { listOrNone, uniqueNames } from "./inhibit-rules.js";

export const RECEIVER_BOUNDS = {
  maxNameChars: 64,
  maxTimeoutMs: 300_000,
  maxAttempts: 100,
  maxGiveUpAfterMs: 7 * 86_400_000,
  maxRatePerSecond: 10_000,
  maxRecipients: 100,
} as const;

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

/** Where a secret is read from: an environment variable, or a file (its content, trimmed). */
export type SecretRef = { env: string } | { file: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EnvName = z.string().regex(ENV_NAME, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
const FilePath = z.string().min(1, "a file path").max(4096);

/** Unknown keys name the allowed ones (`hidden`: keys taken only to be refused with a better message). */
function strict<T extends z.core.$ZodLooseShape>(shape: T, opts: { hidden?: string[]; message?: (keys: string[]) => string } = {}) {
  const allowed = Object.keys(shape).filter((k) => !opts.hidden?.includes(k));
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return undefined;
      const keys = (issue as { keys?: string[] }).keys ?? [];
      if (opts.message) return opts.message(keys);
      return `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")}; allowed: ${allowed.join(", ")}`;
    },
  });
}

/** A literal secret (`url:`, `routing_key:`, …): accepted by the shape only to be refused with a pointer to `_env`/`_file`. */
const Literal = z.unknown().optional();

const WHY_SECRET: Record<string, string> = {
  url: "a URL carries its token",
  hmac_secret: "a signing key",
  routing_key: "a routing key is a credential",
  auth_password: "a password",
};

/**
 * Exactly one of `<base>_env`, `<base>_file` (at most one when optional), as a SecretRef. A literal
 * `<base>` is refused at its own path, saying where the secret goes instead.
 */
function secretRef<T extends Record<string, unknown>>(spec: T, base: string, required: boolean, ctx: z.RefinementCtx): SecretRef | undefined {
  if (spec[base] !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: [base],
      message: `a literal ${base} is refused (${WHY_SECRET[base] ?? "a secret"}, which must not sit in config files or logs): set ${base}_env (an environment variable name) or ${base}_file (a file holding it)`,
    });
    return undefined;
  }
  const env = spec[`${base}_env`] as string | undefined;
  const file = spec[`${base}_file`] as string | undefined;
  if (env !== undefined && file !== undefined) {
    ctx.addIssue({ code: "custom", message: `set one of ${base}_env or ${base}_file, not both` });
    return undefined;
  }
  if (env !== undefined) return { env };
  if (file !== undefined) return { file };
  if (required) ctx.addIssue({ code: "custom", message: `set ${base}_env (an environment variable name) or ${base}_file (a file holding it)` });
  return undefined;
}

const WebhookSpec = strict(
  {
    url: Literal,
    url_env: EnvName.optional(),
    url_file: FilePath.optional(),
    hmac_secret: Literal,
    hmac_secret_env: EnvName.optional(),
    hmac_secret_file: FilePath.optional(),
  },
  { hidden: ["url", "hmac_secret"] },
).transform((s, ctx) => {
  const url = secretRef(s, "url", true, ctx);
  const hmac = secretRef(s, "hmac_secret", false, ctx);
  return { url: url!, ...(hmac ? { hmac_secret: hmac } : {}) };
});

const UrlOnlySpec = strict({ url: Literal, url_env: EnvName.optional(), url_file: FilePath.optional() }, { hidden: ["url"] }).transform((s, ctx) => ({
  url: secretRef(s, "url", true, ctx)!,
}));

const HttpUrl = z
  .string()
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), "an http(s) URL such as https://events.pagerduty.com/v2/enqueue");

const PagerDutySpec = strict(
  {
    routing_key_env: EnvName.optional(),
    routing_key_file: FilePath.optional(),
    /** The Events API endpoint (no secret in it): a regional or test endpoint. */
    url: HttpUrl.default(PAGERDUTY_EVENTS_URL),
    routing_key: Literal,
  },
  { hidden: ["routing_key"] },
).transform((s, ctx) => ({ routing_key: secretRef(s, "routing_key", true, ctx)!, url: s.url }));

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+$/;
const Address = z.string().regex(ADDRESS, "an email address such as oncall@example.com");
/** `opsbus@example.com` or `opsbus <opsbus@example.com>`. */
const FromAddress = z
  .string()
  .refine((s) => ADDRESS.test(s) || /^[^<>\r\n"]{0,128}<[^\s@<>",;]+@[^\s@<>",;]+>$/.test(s), "an address: oncall@example.com or 'opsbus <opsbus@example.com>'");

export interface HostPort {
  host: string;
  port: number;
}

const SmartHost = z.string().transform((text, ctx): HostPort => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    ctx.addIssue({ code: "custom", message: "host:port of the SMTP server, e.g. smtp.example.com:587 or [::1]:25" });
    return z.NEVER;
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
});

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);
export const isLoopbackHost = (host: string): boolean => LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\./.test(host);

const EmailSpec = strict(
  {
    to: z.array(Address).min(1, "at least one recipient").max(RECEIVER_BOUNDS.maxRecipients),
    from: FromAddress,
    smarthost: SmartHost,
    auth_username: z.string().min(1).max(256).optional(),
    auth_password_env: EnvName.optional(),
    auth_password_file: FilePath.optional(),
    /** STARTTLS required (default: yes, except to a loopback smarthost). Port 465 always uses TLS. */
    require_tls: z.boolean().optional(),
    /** The name said in EHLO (default: the local host name). */
    hello: z.string().regex(/^[A-Za-z0-9.-]{1,255}$/, "a host name").optional(),
    auth_password: Literal,
  },
  { hidden: ["auth_password"] },
).transform((s, ctx) => {
  const password = secretRef(s, "auth_password", false, ctx);
  if (password && s.auth_username === undefined) ctx.addIssue({ code: "custom", message: "auth_password_env/_file given without auth_username" });
  if (!password && s.auth_username !== undefined) ctx.addIssue({ code: "custom", message: "auth_username given without auth_password_env or auth_password_file" });
  return {
    to: s.to,
    from: s.from,
    smarthost: s.smarthost,
    require_tls: s.require_tls ?? !isLoopbackHost(s.smarthost.host),
    ...(s.auth_username !== undefined && password ? { auth: { username: s.auth_username, password } } : {}),
    ...(s.hello !== undefined ? { hello: s.hello } : {}),
  };
});

export type WebhookConfig = z.output<typeof WebhookSpec>;
export type SlackConfig = z.output<typeof UrlOnlySpec>;
export type MsTeamsConfig = z.output<typeof UrlOnlySpec>;
export type PagerDutyConfig = z.output<typeof PagerDutySpec>;
export type EmailConfig = z.output<typeof EmailSpec>;

/** What the outbox needs to know about sending to one receiver. */
export interface ReceiverSettings {
  /** One attempt's limit (connect, answer, body). */
  timeoutMs: number;
  maxAttempts: number;
  /** Counted from when the notification was planned. */
  giveUpAfterMs: number;
  /** Sends per second to this receiver across the process; absent: unlimited (Slack paces itself to 1/s). */
  ratePerSecond?: number;
  /** Alerts listed per notification (0: all); the rest are counted in `truncated_alerts`. */
  maxAlerts: number;
}

export type ReceiverConfig = { name: string; settings: ReceiverSettings } & (
  | { integration: "webhook"; config: WebhookConfig }
  | { integration: "slack"; config: SlackConfig }
  | { integration: "pagerduty"; config: PagerDutyConfig }
  | { integration: "email"; config: EmailConfig }
  | { integration: "msteams"; config: MsTeamsConfig }
);

const RECEIVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const ReceiverSpec = strict(
  {
    name: z.string().regex(RECEIVER_NAME, "letters, digits, _ and -, starting with a letter or digit, at most 64 characters"),
    webhook: WebhookSpec.optional(),
    slack: UrlOnlySpec.optional(),
    pagerduty: PagerDutySpec.optional(),
    email: EmailSpec.optional(),
    msteams: UrlOnlySpec.optional(),
    timeout: DurationText.refine((ms) => ms >= 100 && ms <= RECEIVER_BOUNDS.maxTimeoutMs, "between 100ms and 5m").default(10_000),
    max_attempts: z.number().int().min(1).max(RECEIVER_BOUNDS.maxAttempts).default(10),
    give_up_after: DurationText.refine((ms) => ms >= 1000 && ms <= RECEIVER_BOUNDS.maxGiveUpAfterMs, "between 1s and 7d").default(3_600_000),
    rate_per_second: z.number().positive().max(RECEIVER_BOUNDS.maxRatePerSecond).optional(),
    max_alerts: z.number().int().min(0).max(10_000).default(0),
  },
  {
    message: (keys) =>
      `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")}; an integration is one of ${INTEGRATIONS.join(", ")}; ` +
      "the other keys allowed: name, timeout, max_attempts, give_up_after, rate_per_second, max_alerts",
  },
).transform((r, ctx): ReceiverConfig => {
  const present = INTEGRATIONS.filter((k) => r[k] !== undefined);
  if (present.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: present.length
        ? `exactly one integration per receiver; got ${present.join(" and ")} (make one receiver each and route to both)`
        : `no integration: add exactly one of ${INTEGRATIONS.join(", ")}`,
    });
    return z.NEVER;
  }
  const integration = present[0]! as IntegrationKind;
  const settings: ReceiverSettings = {
    timeoutMs: r.timeout,
    maxAttempts: r.max_attempts,
    giveUpAfterMs: r.give_up_after,
    maxAlerts: r.max_alerts,
    ...(r.rate_per_second !== undefined ? { ratePerSecond: r.rate_per_second } : {}),
  };
  return { name: r.name, settings, integration, config: r[integration] } as ReceiverConfig;
});

/** Per integration, the keys whose values may be quoted in an error; any other value may be a secret. */
const QUOTABLE: Record<IntegrationKind, readonly string[]> = {
  webhook: ["url_env", "url_file", "hmac_secret_env", "hmac_secret_file"],
  slack: ["url_env", "url_file"],
  msteams: ["url_env", "url_file"],
  pagerduty: ["routing_key_env", "routing_key_file", "url"],
  email: ["to", "from", "smarthost", "auth_username", "auth_password_env", "auth_password_file", "require_tls", "hello"],
};
const RECEIVER_KEYS = new Set(["name", "timeout", "max_attempts", "give_up_after", "rate_per_second", "max_alerts", ...INTEGRATIONS]);
const REDACTED = "<redacted>";

/**
 * Blanks, in place, every value in the parsed YAML that might be a secret: a literal `url:`,
 * `routing_key:` or password, a misspelt key's value, an unknown integration's settings, an
 * `*_env` holding something other than a variable name (a pasted URL). Config errors quote the
 * offending value from this object, so they can never echo a token.
 */
function blankSecrets(raw: unknown): unknown {
  const receivers = (raw as { receivers?: unknown } | null)?.receivers;
  if (!Array.isArray(receivers)) return raw;
  for (const receiver of receivers) {
    if (!receiver || typeof receiver !== "object") continue;
    const r = receiver as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!RECEIVER_KEYS.has(key) && r[key] !== null && typeof r[key] === "object") r[key] = REDACTED;
    }
    for (const kind of INTEGRATIONS) {
      const spec = r[kind];
      if (!spec || typeof spec !== "object" || Array.isArray(spec)) continue;
      const s = spec as Record<string, unknown>;
      for (const key of Object.keys(s)) {
        const quotable = QUOTABLE[kind].includes(key) && !(key.endsWith("_env") && typeof s[key] === "string" && !ENV_NAME.test(s[key] as string));
        if (!quotable && s[key] !== null && s[key] !== undefined) s[key] = REDACTED;
      }
    }
  }
  return raw;
}

export const ReceiversPolicy = z.preprocess(
  blankSecrets,
  strict({
    receivers: listOrNone(ReceiverSpec).superRefine((rs, ctx) => uniqueNames(rs, ctx, "receiver")),
  }),
);
export type ReceiversPolicy = z.output<typeof ReceiversPolicy>;
