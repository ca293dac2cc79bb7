import { createInbox, type Msg, type NatsConnection } from "@nats-io/nats-core";

export interface PulledMessage {
  subject: string;
  data: Uint8Array;
  /** The ack subject; publishing to it settles the delivery, from any connection. */
  reply: string;
  info: DeliveryToken;
}

export interface DeliveryToken {
  stream: string;
  consumer: string;
  delivery_count: number;
  stream_seq: number;
  consumer_seq: number;
}

/**
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (2.9) or the longer
 * form with domain and account hash (2.10+): the trailing tokens are the same in both.
 */
export function parseAckSubject(reply: string): DeliveryToken | null {
  const t = reply.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK" || t.length < 9) return null;
  const n = t.length;
  const num = (i: number) => Number(t[i]);
  const token: DeliveryToken = {
    stream: t[n - 7]!,
    consumer: t[n - 6]!,
    delivery_count: num(n - 5),
    stream_seq: num(n - 4),
    consumer_seq: num(n - 3),
  };
  return Number.isFinite(token.stream_seq) && Number.isFinite(token.delivery_count) ? token : null;
}

function isStatus(m: Msg): boolean {
  return !m.reply && m.data.length === 0 && !!m.headers && m.headers.code >= 100;
}

/**
 * One pull request with `no_wait`: returns what the consumer has right now (up to `batch`)
 * instead of waiting out an expiry. Used by `claim`, which answers a caller synchronously.
 */
export async function pullNoWait(nc: NatsConnection, stream: string, consumer: string, batch: number, timeoutMs = 2000): Promise<PulledMessage[]> {
  const inbox = createInbox();
  const sub = nc.subscribe(inbox, { timeout: timeoutMs });
  const out: PulledMessage[] = [];
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify({ batch, no_wait: true }), { reply: inbox });
  try {
    for await (const m of sub) {
      if (isStatus(m)) break;
      const info = m.reply ? parseAckSubject(m.reply) : null;
      if (info && m.reply) out.push({ subject: m.subject, data: m.data, reply: m.reply, info });
      if (out.length >= batch) break;
    }
  } catch (err) {
    // A timeout after some messages arrived still hands those out; they are delivered to us.
    if (!out.length) throw err;
  } finally {
    sub.unsubscribe();
  }
  return out;
}
