/**
 * Server-Sent Events clients for the console bench: each one a GET /console/events of its own
 * session on its own connection, noting when each event (by its `id:`, the stream sequence)
 * arrived, on this process's clock.
 */
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";

export interface SseClient {
  /** Stream sequence → when it arrived (performance.now()). */
  readonly arrived: Map<number, number>;
  close(): void;
}

export interface SseFleet {
  clients: SseClient[];
  close(): Promise<void>;
}

/** Frames end with a blank line; the `id:` line of one is its stream sequence. */
function framesOf(buffered: string): { frames: string[]; rest: string } {
  const parts = buffered.split("\n\n");
  return { frames: parts.slice(0, -1), rest: parts.at(-1)! };
}

async function connect(dispatcher: Agent, url: string, cookie: string): Promise<SseClient> {
  const arrived = new Map<number, number>();
  const controller = new AbortController();
  const res = await request(url, { dispatcher, headers: { cookie, accept: "text/event-stream" }, signal: controller.signal, bodyTimeout: 0, headersTimeout: 30_000 });
  if (res.statusCode !== 200) throw new Error(`GET /console/events: HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 200)}`);
  res.body.setEncoding("utf8");
  let rest = "";
  let joined: () => void;
  const joinedP = new Promise<void>((resolve) => (joined = resolve));
  res.body.on("data", (chunk: string) => {
    const at = performance.now();
    const split = framesOf(rest + chunk);
    rest = split.rest;
    for (const frame of split.frames) {
      if (frame.includes(": joined at ")) joined();
      const id = /^id: (\d+)$/m.exec(frame)?.[1];
      if (id !== undefined) arrived.set(Number(id), at);
    }
  });
  res.body.on("error", () => {}); // the abort at close
  await joinedP;
  return { arrived, close: () => controller.abort() };
}

/** `cookies.length` clients, connected a few at a time; resolves when each has joined the feed. */
export async function connectSseFleet(url: string, cookies: string[], atOnce = 16): Promise<SseFleet> {
  const dispatcher = new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 1_000 });
  const clients: SseClient[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(atOnce, cookies.length) }, async () => {
    while (next < cookies.length) clients.push(await connect(dispatcher, url, cookies[next++]!));
  }));
  return {
    clients,
    async close() {
      for (const c of clients) c.close();
      await dispatcher.destroy();
    },
  };
}
