import { z } from "zod";
import type { EventData, EventType } from "./event-map.js";
import type { Naming } from "./prefix.js";

export * from "./event-map.js";

/** An event on the wire, as any subscriber reads it (an unknown type included); `parseEventData` checks `data`. */
export const EventEnvelope = z.object({
  id: z.string(),
  type: z.string(),
  ts: z.string(),
  node_id: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** An event as published: its type is one of the event map's, its data that type's payload. */
export interface TypedEventEnvelope<T extends EventType> {
  id: string;
  type: T;
  ts: string;
  node_id: string;
  data: EventData<T>;
}

/** The event domains: `alert` of `alert.accepted`, … (for subscribing to one domain's events). */
export type EventDomain = DomainOf<EventType>;
type DomainOf<T> = T extends `${infer D}.${string}` ? D : never;

export function eventSubjects(n: Naming) {
  return {
    stream: `${n.streamPrefix}_EVENTS`,
    wildcard: `${n.prefix}.events.>`,
    /** `ops.events.` — what every event subject starts with. */
    prefix: `${n.prefix}.events.`,
    of: (type: EventType) => `${n.prefix}.events.${type}`,
    /** `ops.events.<domain>.>`: every event of one domain. */
    domain: (domain: EventDomain) => `${n.prefix}.events.${domain}.>`,
  };
}
