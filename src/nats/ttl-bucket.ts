/** A JetStream KV bucket whose entries expire: what the used-ack-links and console-sessions stores share. */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";

const NANOS_PER_MS = 1_000_000;

/** Creates the bucket if missing; an existing one keeping entries for less than `ttlMs` is raised to it (never lowered). */
export async function openTtlBucket(o: { js: JetStreamClient; jsm: JetStreamManager; bucket: string; replicas: number; ttlMs: number; description: string }): Promise<KV> {
  const kv = await new Kvm(o.js).create(o.bucket, { history: 1, replicas: o.replicas, ttl: o.ttlMs, description: o.description });
  const stream = `KV_${o.bucket}`;
  const info = await o.jsm.streams.info(stream);
  const want = o.ttlMs * NANOS_PER_MS;
  if (info.config.max_age > 0 && info.config.max_age < want) await o.jsm.streams.update(stream, { ...info.config, max_age: want });
  return kv;
}
