import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { randomUUID } from "node:crypto";
import type { EventEnvelope, EventType, Subjects } from "../subjects/index.js";

const enc = new TextEncoder();

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

  envelope(type: EventType | string, data: Record<string, unknown>): EventEnvelope {
    return { id: randomUUID(), type, ts: this.now().toISOString(), node_id: this.nodeId, data };
  }

  publish(type: EventType | string, data: Record<string, unknown>, dedupeId?: string): Promise<PubAck> {
    const body = enc.encode(JSON.stringify(this.envelope(type, data)));
    return this.js.publish(this.subjects.events.of(type), body, dedupeId ? { msgID: `${type}:${dedupeId}` } : undefined);
  }
}
