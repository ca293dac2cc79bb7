/**
 * Ack links: a signed, expiring, single-use URL in a notification that acknowledges its incident.
 *
 * A token is `<payload>.<signature>`: the payload `{incident_id, key, exp}` as base64url JSON
 * (`key` the notification's idempotency key, `exp` epoch seconds), the signature base64url
 * HMAC-SHA256 of the payload text under `OPSBUS_ACK_SECRET`, compared in constant time. Signing
 * and checking are pure; that a token is used once is the HTTP route's (a JetStream KV entry per
 * token hash, `UsedAckLinks`).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { OpsEnv } from "../config/env.js";

export interface AckLinkPayload {
  incident_id: string;
  /** The notification's idempotency key (`<incident>.<moment>.<receiver>`). */
  key: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

export type AckLinkRefusal = "malformed" | "bad signature" | "expired";
export type AckLinkCheck =
  | { ok: true; payload: AckLinkPayload }
  | { ok: false; reason: "malformed" | "bad signature" }
  /** Signed here but past `exp`: what it was for is known. */
  | { ok: false; reason: "expired"; payload: AckLinkPayload };

/** HMAC-SHA256 keys shorter than this are refused at start-up (loadEnv). */
export { ACK_SECRET_MIN_BYTES } from "../config/env.js";
/** How long a link works when OPSBUS_ACK_LINK_TTL_MINUTES is unset. */
export const DEFAULT_ACK_LINK_TTL_MS = 24 * 3600_000;
/** Longer tokens are not read at all. */
export const MAX_ACK_TOKEN_CHARS = 2048;
/**
 * The secret dev and test use when OPSBUS_ACK_SECRET is unset, so links work out of the box there.
 * Public, so never used in staging or prod: there links are off without a secret of their own.
 */
export const DEV_ACK_SECRET = "opsbus-dev-ack-links-not-a-secret-0000";

const B64URL = /^[A-Za-z0-9_-]+$/;
const INCIDENT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_KEY_CHARS = 512;

const mac = (payload: string, secret: string): Buffer => createHmac("sha256", secret).update(payload).digest();

export function signAckLink(p: AckLinkPayload, secret: string): string {
  const payload = Buffer.from(JSON.stringify({ incident_id: p.incident_id, key: p.key, exp: p.exp })).toString("base64url");
  return `${payload}.${mac(payload, secret).toString("base64url")}`;
}

function payloadOf(text: string): AckLinkPayload | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const { incident_id, key, exp } = v as Record<string, unknown>;
  if (typeof incident_id !== "string" || !INCIDENT_ID.test(incident_id)) return undefined;
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_CHARS) return undefined;
  if (typeof exp !== "number" || !Number.isSafeInteger(exp)) return undefined;
  return { incident_id, key, exp };
}

/**
 * Whether `token` is a link this secret signed that has not expired at `now`. The signature is
 * checked before the payload is read, so a tampered payload is `bad signature`; `malformed` is a
 * token that is not two base64url parts (or a signed payload that is not a link).
 */
export function verifyAckLink(token: string, secret: string, now: Date): AckLinkCheck {
  if (typeof token !== "string" || token.length > MAX_ACK_TOKEN_CHARS) return { ok: false, reason: "malformed" };
  const parts = token.split(".");
  if (parts.length !== 2 || !parts.every((p) => B64URL.test(p))) return { ok: false, reason: "malformed" };
  const [payload, sig] = parts as [string, string];
  const expected = mac(payload, secret);
  const given = Buffer.from(sig, "base64url");
  // timingSafeEqual needs equal lengths; the length of a signature is no secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "bad signature" };
  const p = payloadOf(payload);
  if (!p) return { ok: false, reason: "malformed" };
  if (now.getTime() >= p.exp * 1000) return { ok: false, reason: "expired", payload: p };
  return { ok: true, payload: p };
}

/** What a used-links record is keyed by: never the token itself (it would be a working link until it expires). */
export const ackTokenHash = (token: string): string => createHash("sha256").update(token).digest("hex");

/** The single-use ledger of ack links (a JetStream KV bucket, `<STREAM_PREFIX>_ACK_LINKS`). */
export interface UsedAckLinks {
  /** Records a token hash as used; false when it was used before (the link is spent). */
  claim(tokenHash: string): Promise<boolean>;
  /** Whether it was used (for the confirmation page; the POST's `claim` decides). */
  used(tokenHash: string): Promise<boolean>;
  /** Forgets a claim whose acknowledge failed for a passing reason, so the link works again. */
  release(tokenHash: string): Promise<void>;
}

/** Ack links as one process has them configured. */
export interface AckLinks {
  secret: string;
  /** Where the gateway's HTTP listener is reached, without a trailing slash: links are `<baseUrl>/ack/<token>`. */
  baseUrl: string;
  ttlMs: number;
}

/** The environment ack links are read from (a subset of RuntimeEnv). */
export interface AckLinkEnv {
  OPS_ENV: OpsEnv;
  OPSBUS_ACK_SECRET?: string | undefined;
  OPSBUS_PUBLIC_URL?: string | undefined;
  OPSBUS_ACK_LINK_TTL_MINUTES?: number | undefined;
  HTTP_HOST: string;
  HTTP_PORT?: number | undefined;
}

/**
 * Ack links from the environment, or undefined when they are off: in staging and prod without
 * OPSBUS_ACK_SECRET (dev and test fall back to DEV_ACK_SECRET), or with no URL to put in them
 * (neither OPSBUS_PUBLIC_URL nor HTTP_PORT).
 */
export function ackLinksFrom(env: AckLinkEnv): AckLinks | undefined {
  const secret = env.OPSBUS_ACK_SECRET || (env.OPS_ENV === "dev" ? DEV_ACK_SECRET : undefined);
  if (!secret) return undefined;
  const base = env.OPSBUS_PUBLIC_URL || (env.HTTP_PORT !== undefined ? `http://${env.HTTP_HOST}:${env.HTTP_PORT}` : undefined);
  if (!base) return undefined;
  const ttlMs = env.OPSBUS_ACK_LINK_TTL_MINUTES !== undefined ? env.OPSBUS_ACK_LINK_TTL_MINUTES * 60_000 : DEFAULT_ACK_LINK_TTL_MS;
  return { secret, baseUrl: base.replace(/\/+$/, ""), ttlMs };
}

/** The link that acknowledges `incidentId`, for the notification keyed `key`, good for `ttlMs` from `now`. */
export function ackUrl(links: AckLinks, incidentId: string, key: string, now: Date): string {
  const exp = Math.ceil((now.getTime() + links.ttlMs) / 1000);
  return `${links.baseUrl}/ack/${signAckLink({ incident_id: incidentId, key, exp }, links.secret)}`;
}
