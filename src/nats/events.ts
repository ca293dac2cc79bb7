import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { randomUUID } from "node:crypto";
import type { EventData, EventType, Subjects, TypedEventEnvelope } from "../subjects/index.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A JetStream publish, ready to send: `msgID` becomes the Nats-Msg-Id. */
export interface StreamPublish {
  subject: string;
  data: Uint8Array;
  msgID?: string;
}

/**
 * Publishes events (subjects.events.of(type)) into the events stream. A `dedupeId` becomes the Nats-Msg-Id, so a
 * stage that is replayed after a lost ack republishes without doubling the event.
 */
export class EventPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly subjects: Subjects,
    private readonly nodeId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  envelope<T extends EventType>(type: T, data: EventData<T>): TypedEventEnvelope<T> {
    return { id: randomUUID(), type, ts: this.now().toISOString(), node_id: this.nodeId, data };
  }

  /** The event as a publish, for a caller that sends many at once (see PubAckBatcher). */
  prepare<T extends EventType>(type: T, data: EventData<T>, dedupeId?: string): StreamPublish {
    const body = enc.encode(JSON.stringify(this.envelope(type, data)));
    return { subject: this.subjects.events.of(type), data: body, ...(dedupeId ? { msgID: `${type}:${dedupeId}` } : {}) };
  }

  /** Only a type of the event map (src/subjects/event-map.ts), with its payload, type-checks. */
  publish<T extends EventType>(type: T, data: EventData<T>, dedupeId?: string): Promise<PubAck> {
    const p = this.prepare(type, data, dedupeId);
    return this.js.publish(p.subject, p.data, p.msgID ? { msgID: p.msgID } : undefined);
  }
}

/**
 * JetStream publishes whose PubAcks are collected per batch: every reply comes to one wildcard
 * inbox subscription, with one timer per batch. `js.publish` is a request per message, each with
 * its own subscription entry, timer and (in nats-core) an Error object allocated on success, which
 * showed up on the ingest worker's profile. Resolves when every message was stored (or found a
 * duplicate); rejects on the first JetStream error, a missing stream, or the timeout.
 */
export class PubAckBatcher {
  private readonly inbox = createInbox();
  private readonly waiting = new Map<string, { left: number; resolve(): void; reject(err: Error): void }>();
  private readonly sub: Subscription;
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 30_000,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => (err ? this.failAll(err) : this.onAck(msg)) });
  }

  publishAll(batch: StreamPublish[]): Promise<void> {
    if (batch.length === 0) return Promise.resolve();
    const id = (this.next++).toString(36);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`PubAck timeout: ${entry.left} of ${batch.length} publishes unacknowledged after ${this.timeoutMs} ms`)), this.timeoutMs);
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        if (err) reject(err);
        else resolve();
      };
      const entry = { left: batch.length, resolve: () => done(), reject: done };
      this.waiting.set(id, entry);
      try {
        for (const p of batch) {
          const h = p.msgID ? headers() : undefined;
          if (h) h.set("Nats-Msg-Id", p.msgID!);
          this.nc.publish(p.subject, p.data, { reply: `${this.inbox}.${id}`, ...(h ? { headers: h } : {}) });
        }
      } catch (err) {
        done(err as Error);
      }
    });
  }

  close(): void {
    this.sub.unsubscribe();
    this.failAll(new Error("PubAckBatcher closed"));
  }

  private onAck(msg: Msg): void {
    const id = msg.subject.slice(this.inbox.length + 1);
    const entry = this.waiting.get(id);
    if (!entry) return; // a batch that already failed or timed out
    // No stream listens on the subject, or (clustered) its leader is being elected: the server answers
    // 503 with no body. msg.subject is our reply inbox, not the subject published to.
    if (msg.data.length === 0 && msg.headers?.code === 503) return entry.reject(new Error("JetStream publish: 503 no responders (no stream for the subject, or no stream leader yet)"));
    const ack = JSON.parse(dec.decode(msg.data)) as { error?: { code: number; description: string } };
    if (ack.error) return entry.reject(new Error(`JetStream publish failed: ${ack.error.code} ${ack.error.description}`));
    if (--entry.left === 0) entry.resolve();
  }

  private failAll(err: Error): void {
    for (const entry of [...this.waiting.values()]) entry.reject(err);
  }
}
