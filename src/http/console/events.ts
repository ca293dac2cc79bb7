/**
 * The console's live feed: ONE ordered JetStream consumer per process on OPS_EVENTS, fanned out
 * to every Server-Sent Events connection (not a consumer per browser). Each SSE event is
 * `id: <stream sequence>`, `event: <event type>`, `data: <the envelope as JSON>`.
 *
 * Resume without gaps or duplicates: a client that sends `Last-Event-ID: L` joins the fan-out at
 * once, buffering what it hears, and notes J, the last sequence the feed had passed on before it
 * joined. It then reads (L, J] from the stream (its own short-lived ordered consumer, at most
 * CATCH_UP_MAX events, a few at a time per process), writes those, then what it buffered after J.
 * Further behind than CATCH_UP_MAX, it is sent `event: reset` and joins live (the page reloads).
 *
 * Backpressure: what a client has not taken is bounded (`maxBufferedBytes` in the socket's write
 * buffer, `maxQueued` events while catching up); past it the connection is closed, and the
 * browser reconnects with its Last-Event-ID. A comment line every `heartbeatMs` keeps proxies from
 * closing an idle stream and tells a dead socket apart.
 */
import { DeliverPolicy, type Consumer, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { ServerResponse } from "node:http";
import { mayReadEvent } from "../../console/event-access.js";
import type { Logger } from "../../log.js";

export const HEARTBEAT_MS_DEFAULT = 15_000;
/** The most events one reconnect reads back from the stream. */
export const CATCH_UP_MAX = 10_000;
/** Reconnects reading back at once, per process; others wait their turn. */
const CATCH_UPS_AT_ONCE = 8;
/** A client whose socket holds more unsent bytes than this is dropped. */
export const MAX_BUFFERED_BYTES_DEFAULT = 1024 * 1024;
/** Events a catching-up client may hold before it is dropped. */
const MAX_QUEUED_DEFAULT = 20_000;
const TYPE = /^[A-Za-z0-9._:-]{1,128}$/;

export interface EventFeedOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  logger: Logger;
  heartbeatMs?: number;
  maxBufferedBytes?: number;
  maxQueued?: number;
}

/** One event, framed once for every client. */
interface Framed {
  seq: number;
  type: string;
  frame: string;
}

/** An SSE frame: the data is JSON re-serialised, so it holds no raw newline. */
export function frameOf(seq: number, raw: string): Framed | undefined {
  let envelope: unknown;
  try {
    envelope = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof envelope !== "object" || envelope === null) return undefined;
  const t = (envelope as { type?: unknown }).type;
  const type = typeof t === "string" && TYPE.test(t) ? t : "message";
  return { seq, type, frame: `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(envelope)}\n\n` };
}

export interface FeedClient {
  res: ServerResponse;
  entitlements: ReadonlySet<string>;
  /** Checked at each heartbeat: false closes the stream (the session ended). */
  stillAllowed?: () => Promise<boolean>;
}

class Connection {
  /** Live events heard while catching up; undefined once live. */
  queue: Framed[] | undefined = [];
  lastWritten = 0;
  closed = false;

  constructor(
    readonly c: FeedClient,
    private readonly feed: EventFeed,
  ) {}

  deliver(e: Framed): void {
    if (this.closed) return;
    if (this.queue) {
      this.queue.push(e);
      if (this.queue.length > this.feed.maxQueued) this.drop("too many events queued while catching up");
      return;
    }
    this.write(e);
  }

  write(e: Framed): void {
    if (this.closed || e.seq <= this.lastWritten) return;
    this.lastWritten = e.seq;
    if (!mayReadEvent(this.c.entitlements, e.type)) return;
    this.send(e.frame);
  }

  send(text: string): void {
    if (this.closed) return;
    this.c.res.write(text);
    if (this.c.res.writableLength > this.feed.maxBufferedBytes) this.drop("slow client");
  }

  goLive(): void {
    const queued = this.queue ?? [];
    this.queue = undefined;
    for (const e of queued) this.write(e);
  }

  drop(reason: string): void {
    if (this.closed) return;
    this.feed.dropped(reason);
    this.close();
    this.c.res.destroy();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.feed.forget(this);
    if (!this.c.res.destroyed) this.c.res.end();
  }
}

export class EventFeed {
  readonly heartbeatMs: number;
  readonly maxBufferedBytes: number;
  readonly maxQueued: number;
  private readonly connections = new Set<Connection>();
  private starting: Promise<void> | undefined;
  private consumer: Consumer | undefined;
  private stopIter: (() => void) | undefined;
  /** The last stream sequence passed on to the connections. */
  private position = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private catchUps = 0;
  private readonly waiting: Array<() => void> = [];
  private stopped = false;
  /** Clients dropped for backpressure, since start. */
  droppedCount = 0;

  constructor(private readonly o: EventFeedOptions) {
    this.heartbeatMs = o.heartbeatMs ?? HEARTBEAT_MS_DEFAULT;
    this.maxBufferedBytes = o.maxBufferedBytes ?? MAX_BUFFERED_BYTES_DEFAULT;
    this.maxQueued = o.maxQueued ?? MAX_QUEUED_DEFAULT;
  }

  get clients(): number {
    return this.connections.size;
  }

  /** Starts the one consumer on first use, from the stream's end. */
  private start(): Promise<void> {
    this.starting ??= this.open().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    const info = await this.o.jsm.streams.info(this.o.stream);
    this.position = info.state.last_seq;
    const consumer = await this.o.js.consumers.get(this.o.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.position + 1 });
    this.consumer = consumer;
    const iter = await consumer.consume({ max_messages: 256 });
    this.stopIter = () => iter.stop();
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    void (async () => {
      try {
        for await (const m of iter) this.dispatch(m.seq, m.string());
      } catch (err) {
        this.o.logger.warn({ err }, "console event feed ended");
      }
      // Ended (stopped, or the stream went away): clients reconnect with their Last-Event-ID.
      if (!this.stopped) this.o.logger.warn({ stream: this.o.stream }, "console event feed consumer ended; clients will resume");
      this.reset();
    })();
  }

  private reset(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.starting = undefined;
    const consumer = this.consumer;
    this.consumer = undefined;
    void consumer?.delete().catch(() => undefined);
    for (const c of [...this.connections]) c.close();
  }

  private dispatch(seq: number, raw: string): void {
    if (seq <= this.position) return;
    this.position = seq;
    const framed = frameOf(seq, raw);
    if (!framed) return;
    for (const c of this.connections) c.deliver(framed);
  }

  private beat(): void {
    for (const c of this.connections) {
      c.send(": heartbeat\n\n");
      const check = c.c.stillAllowed;
      if (check) void check().then((ok) => ok || c.close(), () => undefined);
    }
  }

  dropped(reason: string): void {
    this.droppedCount++;
    this.o.logger.debug({ reason }, "console event stream dropped");
  }

  forget(c: Connection): void {
    this.connections.delete(c);
  }

  /**
   * Serves one SSE connection: headers already sent by the caller. `lastEventId`: resume after
   * that stream sequence. Resolves when the connection has joined the live feed.
   */
  async attach(client: FeedClient, lastEventId: number | undefined): Promise<void> {
    await this.start();
    const conn = new Connection(client, this);
    this.connections.add(conn);
    client.res.on("close", () => conn.close());
    const joinedAt = this.position;
    conn.lastWritten = lastEventId ?? joinedAt;
    conn.send(`retry: 2000\n: joined at ${joinedAt}\n\n`);
    if (lastEventId !== undefined && lastEventId < joinedAt) {
      if (joinedAt - lastEventId > CATCH_UP_MAX) {
        conn.send(`event: reset\ndata: ${JSON.stringify({ reason: `more than ${CATCH_UP_MAX} events behind; reload`, last_event_id: lastEventId, position: joinedAt })}\n\n`);
        conn.lastWritten = joinedAt;
      } else {
        try {
          await this.catchUp(conn, lastEventId, joinedAt);
        } catch (err) {
          this.o.logger.warn({ err, last_event_id: lastEventId }, "console event catch-up failed");
          conn.drop("catch-up failed");
          return;
        }
      }
    }
    conn.goLive();
  }

  /** Writes (from, to] from the stream, with its own ordered consumer (deleted after). */
  private async catchUp(conn: Connection, from: number, to: number): Promise<void> {
    await this.turn();
    let consumer: Consumer | undefined;
    try {
      consumer = await this.o.js.consumers.get(this.o.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 });
      const iter = await consumer.consume({ max_messages: Math.min(512, to - from) });
      for await (const m of iter) {
        if (conn.closed) break;
        if (m.seq <= to) {
          const framed = frameOf(m.seq, m.string());
          if (framed) conn.write(framed);
          else conn.lastWritten = Math.max(conn.lastWritten, m.seq);
        }
        if (m.seq >= to || m.info.pending === 0) break;
      }
      iter.stop();
    } finally {
      void consumer?.delete().catch(() => undefined);
      this.catchUps--;
      this.waiting.shift()?.();
    }
  }

  private async turn(): Promise<void> {
    if (this.catchUps < CATCH_UPS_AT_ONCE) {
      this.catchUps++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.catchUps++;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopIter?.();
    this.reset();
  }
}
