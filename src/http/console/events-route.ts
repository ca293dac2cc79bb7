/**
 * `GET /console/events`: a session's Server-Sent Events stream off the process's one feed
 * (events.ts). Resumes after `Last-Event-ID` (the header EventSource sends on reconnect, or
 * `?last_event_id=` for polyfills that cannot set it). The stream closes when the session ends
 * (checked at each heartbeat).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { parseCookies, SESSION_COOKIE } from "../../console/cookies.js";
import { CONSOLE_HEADERS } from "../../console/csp.js";
import { refuse } from "../edge.js";
import { headerOf, withConsoleHeaders, type ConsoleContext, type SessionOf } from "./access.js";
import type { EventFeed } from "./events.js";

const SEQUENCE = /^\d{1,15}$/;

/** The sequence to resume after: undefined for none, null when it is not a sequence. */
export function lastEventIdOf(request: FastifyRequest): number | undefined | null {
  const fromQuery = (request.query as Record<string, unknown> | undefined)?.last_event_id;
  const raw = headerOf(request, "last-event-id") ?? (typeof fromQuery === "string" ? fromQuery : undefined);
  if (raw === undefined || raw.trim() === "") return undefined;
  return SEQUENCE.test(raw.trim()) ? Number(raw.trim()) : null;
}

export async function eventRoute(ctx: ConsoleContext, feed: EventFeed, s: SessionOf, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const last = lastEventIdOf(request);
  if (last === null) return refuse(withConsoleHeaders(reply), 400, "invalid_request", "Last-Event-ID must be a stream sequence (digits)");
  const cookie = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    ...CONSOLE_HEADERS,
    "content-type": "text/event-stream; charset=utf-8",
    connection: "keep-alive",
    // No buffering in a reverse proxy (nginx), or events arrive in bursts.
    "x-accel-buffering": "no",
  });
  res.flushHeaders();
  try {
    await feed.attach(
      {
        res,
        entitlements: s.caller.entitlements,
        stillAllowed: async () => !("miss" in (await ctx.sessions.lookup(cookie, { touch: false }))),
      },
      last,
    );
  } catch (err) {
    ctx.gateway.logger.warn({ err }, "console event stream could not start");
    res.destroy();
  }
  return reply;
}
