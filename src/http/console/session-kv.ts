/**
 * Console sessions in a JetStream KV bucket (`<STREAMPREFIX>_CONSOLE_SESSIONS`), so every gateway
 * behind a balancer knows every session: one key per session, the SHA-256 of its id (never the
 * id), the record as JSON. The bucket's max age is the absolute session lifetime, so an abandoned
 * session's entry goes away by itself; logout deletes it at once. Replicated like the streams.
 */
import { openTtlBucket } from "../../nats/ttl-bucket.js";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { sessionRecordOf, type SessionRecord, type SessionStore } from "../../console/session.js";

/** `OPS_CONSOLE_SESSIONS` for the stream prefix `OPS`. */
export const consoleSessionBucketName = (streamPrefix: string): string => `${streamPrefix}_CONSOLE_SESSIONS`;


export interface KvSessionStoreOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  bucket: string;
  replicas: number;
  /** The absolute session lifetime: the bucket's max age. */
  ttlMs: number;
}

/** Creates the bucket if missing; an existing one keeping entries for less than `ttlMs` is raised to it. */
export async function openKvSessionStore(o: KvSessionStoreOptions): Promise<KvSessionStore> {
  const kv = await openTtlBucket({ js: o.js, jsm: o.jsm, bucket: o.bucket, replicas: o.replicas, ttlMs: o.ttlMs, description: "opsbus console sessions: one key per session (the SHA-256 of its id), kept at most the absolute session lifetime" });
  return new KvSessionStore(kv);
}

export class KvSessionStore implements SessionStore {
  constructor(private readonly kv: KV) {}

  async get(hash: string): Promise<SessionRecord | undefined> {
    const e = await this.kv.get(hash);
    if (!e || e.operation !== "PUT") return undefined;
    try {
      return sessionRecordOf(e.json<unknown>());
    } catch {
      return undefined;
    }
  }

  async put(hash: string, record: SessionRecord): Promise<void> {
    await this.kv.put(hash, JSON.stringify(record));
  }

  async delete(hash: string): Promise<void> {
    await this.kv.purge(hash);
  }
}
