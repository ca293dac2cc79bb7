/** What a JetStream KV compare-and-set answers when another writer got there first. */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** True when a KV `create` or `update` at an expected revision lost to another write. */
export const isWrongSequence = (err: unknown): boolean =>
  err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
