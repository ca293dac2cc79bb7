/** Sessions over a store: created at login, looked up (and their idle clock moved) per request, ended at logout. */
import { isSessionId, needsTouch, newSessionId, newSessionRecord, sessionHash, sessionState, type SessionPolicy, type SessionRecord, type SessionStore } from "../../console/session.js";

export interface LiveSession {
  hash: string;
  record: SessionRecord;
  expiresAt: Date;
}

export type SessionMiss = "no session" | "unknown session" | "idle" | "absolute";

export class ConsoleSessions {
  constructor(
    private readonly store: SessionStore,
    readonly policy: SessionPolicy,
    private readonly now: () => Date,
  ) {}

  /** A new session; the id goes to the cookie only, the store keeps its hash. */
  async create(agentId: string, authenticated: boolean): Promise<LiveSession & { id: string }> {
    const id = newSessionId();
    const record = newSessionRecord(agentId, authenticated, this.now());
    const hash = sessionHash(id);
    await this.store.put(hash, record);
    const state = sessionState(record, this.now(), this.policy);
    return { id, hash, record, expiresAt: state.live ? state.expiresAt : this.now() };
  }

  /** The live session of a cookie value, its idle clock moved to now; or why there is none (an expired one is deleted). */
  async lookup(cookieValue: string | undefined, opts: { touch: boolean } = { touch: true }): Promise<LiveSession | { miss: SessionMiss }> {
    if (!cookieValue) return { miss: "no session" };
    if (!isSessionId(cookieValue)) return { miss: "unknown session" };
    const hash = sessionHash(cookieValue);
    const record = await this.store.get(hash);
    if (!record) return { miss: "unknown session" };
    const now = this.now();
    const state = sessionState(record, now, this.policy);
    if (!state.live) {
      await this.store.delete(hash);
      return { miss: state.reason };
    }
    if (!opts.touch || !needsTouch(record, now, this.policy)) return { hash, record, expiresAt: state.expiresAt };
    const touched = { ...record, last_seen_at: now.toISOString() };
    await this.store.put(hash, touched);
    const after = sessionState(touched, now, this.policy);
    return { hash, record: touched, expiresAt: after.live ? after.expiresAt : state.expiresAt };
  }

  async end(hash: string): Promise<void> {
    await this.store.delete(hash);
  }
}
