/** `tail --since`: replay the events stream from a time, then keep following it live. */
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { UsageError } from "./job-client.js";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `15m`, `2h`, `1d`, `30s` ago, or an ISO time. */
export function parseSince(raw: string, now = Date.now()): Date {
  const rel = /^(\d+)([smhd])$/.exec(raw);
  const at = rel ? new Date(now - Number(rel[1]) * UNIT_MS[rel[2]!]!) : new Date(raw);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--since takes 15m, 2h, 1d or an ISO time, got "${raw}"`);
  return at;
}

export interface MessageSource {
  messages: AsyncIterable<{ subject: string; data: Uint8Array }>;
  stop(): void;
}

/** An ordered (ephemeral, ack-less) consumer on `stream` filtered to `subject`, from `since`. */
export async function replaySource(nc: NatsConnection, stream: string, subject: string, since: Date): Promise<MessageSource> {
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() });
  const iter = await consumer.consume();
  return { messages: iter, stop: () => iter.stop() };
}
