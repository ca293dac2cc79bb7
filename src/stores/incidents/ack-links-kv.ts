/**
 * Spent ack links in a JetStream KV bucket (`<STREAMPREFIX>_ACK_LINKS`): one key per used link,
 * the SHA-256 of its token (never the token), written with `create`, which fails when the key
 * exists: of two clicks, from one process or two, one acknowledges and the other is told the link
 * was used. Entries live as long as a link (the bucket's max age = the link TTL), so a spent link
 * is refused as used until it would have expired anyway. Replicated like the streams.
 */
import { openTtlBucket } from "../../nats/ttl-bucket.js";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { UsedAckLinks } from "../../notify/ack-link.js";
import { isWrongSequence } from "../../nats/kv-errors.js";

/** The bucket of a naming's stream prefix: `OPS_ACK_LINKS` for `OPS`. */
export const ackLinkBucketName = (streamPrefix: string): string => `${streamPrefix}_ACK_LINKS`;

export interface KvUsedAckLinksOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  bucket: string;
  replicas: number;
  /** The links' TTL: how long a used link is remembered. */
  ttlMs: number;
  now?: () => Date;
}


/** Creates the bucket if missing; an existing one keeping entries for less than `ttlMs` is raised to it. */
export async function openKvUsedAckLinks(o: KvUsedAckLinksOptions): Promise<KvUsedAckLinks> {
  const kv = await openTtlBucket({ js: o.js, jsm: o.jsm, bucket: o.bucket, replicas: o.replicas, ttlMs: o.ttlMs, description: "opsbus ack links already used: one key per link (the SHA-256 of its token), kept for the link TTL" });
  return new KvUsedAckLinks(kv, o.now ?? (() => new Date()));
}

export class KvUsedAckLinks implements UsedAckLinks {
  readonly backendName = "KvUsedAckLinks";

  constructor(
    private readonly kv: KV,
    private readonly now: () => Date,
  ) {}

  async claim(tokenHash: string): Promise<boolean> {
    try {
      await this.kv.create(tokenHash, JSON.stringify({ used_at: this.now().toISOString() }));
      return true;
    } catch (err) {
      if (isWrongSequence(err)) return false;
      throw err;
    }
  }

  async release(tokenHash: string): Promise<void> {
    await this.kv.delete(tokenHash);
  }

  async used(tokenHash: string): Promise<boolean> {
    const e = await this.kv.get(tokenHash);
    return e !== null && e.operation === "PUT";
  }
}
