/**
 * Console sessions, as rules: a session id is 256 random bits, handed to the browser once in the
 * `opsbus_session` cookie and stored only as its SHA-256 (a copy of the store logs in nobody).
 * A session ends at the earlier of its idle expiry (no request for `idleMs`) and its absolute
 * expiry (`absoluteMs` after login, however busy). Whether it is live is computed from the clock,
 * never stored. Each session carries its own CSRF token (csrf.ts).
 */
import { createHash, randomBytes } from "node:crypto";

/** Defaults of CONSOLE_IDLE_MINUTES and CONSOLE_ABSOLUTE_HOURS. */
export const CONSOLE_IDLE_MINUTES_DEFAULT = 30;
export const CONSOLE_ABSOLUTE_HOURS_DEFAULT = 12;
/** 256 bits. */
const SESSION_ID_BYTES = 32;
const CSRF_TOKEN_BYTES = 32;
/** A session id as the cookie carries it: 43 base64url characters. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface SessionPolicy {
  idleMs: number;
  absoluteMs: number;
  /**
   * A request refreshes the idle clock in the store only when the stored last-seen time is older
   * than this (a tenth of the idle time): not one store write per request.
   */
  touchEveryMs: number;
}

export function sessionPolicy(idleMinutes = CONSOLE_IDLE_MINUTES_DEFAULT, absoluteHours = CONSOLE_ABSOLUTE_HOURS_DEFAULT): SessionPolicy {
  const idleMs = idleMinutes * 60_000;
  return { idleMs, absoluteMs: absoluteHours * 3_600_000, touchEveryMs: Math.floor(idleMs / 10) };
}

/** What the store keeps under the hash of a session id. */
export interface SessionRecord {
  agent_id: string;
  /** True when an API key named the agent (always in staging and prod); false for a dev login by name. */
  authenticated: boolean;
  csrf: string;
  created_at: string;
  last_seen_at: string;
}

/** The store port: keyed by the session id's hash, never the id. */
export interface SessionStore {
  get(hash: string): Promise<SessionRecord | undefined>;
  put(hash: string, record: SessionRecord): Promise<void>;
  delete(hash: string): Promise<void>;
}

export const newSessionId = (): string => randomBytes(SESSION_ID_BYTES).toString("base64url");
export const newCsrfToken = (): string => randomBytes(CSRF_TOKEN_BYTES).toString("base64url");
export const isSessionId = (s: string): boolean => SESSION_ID.test(s);
export const sessionHash = (id: string): string => createHash("sha256").update(id, "utf8").digest("hex");

export type SessionState = { live: true; expiresAt: Date } | { live: false; reason: "idle" | "absolute" };

/** Live until the earlier of last-seen + idle and created + absolute. */
export function sessionState(r: Pick<SessionRecord, "created_at" | "last_seen_at">, now: Date, p: SessionPolicy): SessionState {
  const absoluteEnd = Date.parse(r.created_at) + p.absoluteMs;
  const idleEnd = Date.parse(r.last_seen_at) + p.idleMs;
  const t = now.getTime();
  if (!(t < absoluteEnd)) return { live: false, reason: "absolute" };
  if (!(t < idleEnd)) return { live: false, reason: "idle" };
  return { live: true, expiresAt: new Date(Math.min(absoluteEnd, idleEnd)) };
}

/** True when a request at `now` should write the new last-seen time back. */
export function needsTouch(r: Pick<SessionRecord, "last_seen_at">, now: Date, p: SessionPolicy): boolean {
  return now.getTime() - Date.parse(r.last_seen_at) >= p.touchEveryMs;
}

export function newSessionRecord(agentId: string, authenticated: boolean, now: Date): SessionRecord {
  const at = now.toISOString();
  return { agent_id: agentId, authenticated, csrf: newCsrfToken(), created_at: at, last_seen_at: at };
}

/** A record read back from a store, or undefined when it is not one. */
export function sessionRecordOf(v: unknown): SessionRecord | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const ok =
    typeof r.agent_id === "string" &&
    typeof r.authenticated === "boolean" &&
    typeof r.csrf === "string" &&
    typeof r.created_at === "string" &&
    typeof r.last_seen_at === "string" &&
    !Number.isNaN(Date.parse(r.created_at)) &&
    !Number.isNaN(Date.parse(r.last_seen_at));
  return ok ? { agent_id: r.agent_id as string, authenticated: r.authenticated as boolean, csrf: r.csrf as string, created_at: r.created_at as string, last_seen_at: r.last_seen_at as string } : undefined;
}

/** In one process only: tests, and a gateway run alone. Several gateways share the KV store. */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, SessionRecord>();
  async get(hash: string) {
    const r = this.records.get(hash);
    return r && { ...r };
  }
  async put(hash: string, record: SessionRecord) {
    this.records.set(hash, { ...record });
  }
  async delete(hash: string) {
    this.records.delete(hash);
  }
  get size(): number {
    return this.records.size;
  }
}
