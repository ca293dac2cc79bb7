/**
 * Loopback receivers for notification tests: an HTTP server that records every request (and can
 * validate each body against the peer's format, answer 503/400/429 with Retry-After, or never
 * answer), and an SMTP sink (the smtp-server package) that records every message with its headers
 * and its text and HTML parts. Tests wait on what arrived (`waitFor(n)`), never on time.
 */
import { EventEmitter, once } from "node:events";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import type { IncidentNotification, IntegrationKind, MomentKind } from "../../src/notify/types.js";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  /** Local clock when it arrived. */
  at: number;
  /** What the validator said ([] when valid or not validated). */
  problems: string[];
  /** The status answered (undefined while held by `hang`). */
  status?: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type ReceiverMode =
  /** 200 (or `status`) for every request. */
  | { kind: "ok"; status?: number }
  /** This status for every request, e.g. 503, 400, or 429 with `retryAfter: "2"` or an HTTP-date. */
  | { kind: "status"; status: number; retryAfter?: string; body?: string }
  /** Never answers (a timeout); held requests are cut when the receiver closes. */
  | { kind: "hang" }
  /** Answers as `fn` says, e.g. 503 for the first n requests then 200. */
  | { kind: "fn"; fn: (req: RecordedRequest, index: number) => Reply };

export interface HttpReceiverOptions {
  /** Checks each JSON body (e.g. VALIDATORS.webhook); a body with problems is answered 400 and recorded. */
  validate?: (json: unknown) => string[];
  mode?: ReceiverMode;
}

export interface HttpReceiver {
  /** `http://127.0.0.1:<port>/hook/<token>`: a path with a token in it, like a real webhook URL. */
  url: string;
  origin: string;
  /** The token part of the path, to check it never shows in errors. */
  token: string;
  requests: RecordedRequest[];
  setMode(mode: ReceiverMode): void;
  /** Resolves with the requests once at least `n` have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Distinct `Idempotency-Key` values seen (what a receiver deduping by key keeps). */
  distinctKeys(): string[];
  close(): Promise<void>;
}

async function waitCount<T>(events: EventEmitter, list: T[], n: number, timeoutMs: number, what: string): Promise<T[]> {
  if (list.length >= n) return list;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    while (list.length < n) await once(events, "arrived", { signal: ac.signal });
    return list;
  } catch {
    throw new Error(`waited ${timeoutMs} ms for ${n} ${what}; got ${list.length}`);
  } finally {
    clearTimeout(timer);
  }
}

function replyFor(mode: ReceiverMode, req: RecordedRequest, index: number): Reply | undefined {
  switch (mode.kind) {
    case "ok":
      return { status: mode.status ?? 200, body: "ok" };
    case "status":
      return { status: mode.status, ...(mode.retryAfter ? { headers: { "retry-after": mode.retryAfter } } : {}), body: mode.body ?? `status ${mode.status}` };
    case "hang":
      return undefined;
    case "fn":
      return mode.fn(req, index);
  }
}

export async function startHttpReceiver(opts: HttpReceiverOptions = {}): Promise<HttpReceiver> {
  let mode: ReceiverMode = opts.mode ?? { kind: "ok" };
  const requests: RecordedRequest[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const held: ServerResponse[] = [];
  const token = `T${Math.random().toString(36).slice(2, 12)}secret`;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const rec: RecordedRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body, json, at: Date.now(), problems: [] };
      if (opts.validate) rec.problems = json === undefined ? ["body is not JSON"] : opts.validate(json);
      const index = requests.length;
      requests.push(rec);
      const reply: Reply | undefined = rec.problems.length ? { status: 400, body: JSON.stringify({ errors: rec.problems }) } : replyFor(mode, rec, index);
      if (!reply) {
        held.push(res);
      } else {
        rec.status = reply.status;
        res.writeHead(reply.status, { "content-type": "text/plain", ...reply.headers });
        res.end(reply.body ?? "");
      }
      events.emit("arrived");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/hook/${token}`,
    origin,
    token,
    requests,
    setMode: (m) => {
      mode = m;
    },
    waitFor: (n, timeoutMs = 10_000) => waitCount(events, requests, n, timeoutMs, "requests"),
    distinctKeys: () => [...new Set(requests.map((r) => String(r.headers["idempotency-key"] ?? "")))],
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ReceivedMail {
  /** MAIL FROM and RCPT TO. */
  envelope: { from: string; to: string[] };
  /** Lower-case header names, unfolded, encoded-words decoded. */
  headers: Record<string, string>;
  subject: string;
  messageId: string;
  text?: string;
  html?: string;
  raw: string;
  /** The AUTH user, when the client logged in. */
  user?: string;
}

export type SmtpMode = { kind: "ok" } | { kind: "reject"; code: number; message?: string };

export interface SmtpSink {
  host: string;
  port: number;
  /** `127.0.0.1:<port>`, as receivers.yml's smarthost. */
  smarthost: string;
  messages: ReceivedMail[];
  setMode(mode: SmtpMode): void;
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/** RFC 2047 encoded words (=?UTF-8?B?...?= / ?Q?). */
function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*(?==\?)?/g, (_, _charset: string, enc: string, text: string) =>
    enc.toUpperCase() === "B"
      ? Buffer.from(text, "base64").toString("utf8")
      : Buffer.from(text.replace(/_/g, " ").replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8"),
  );
}

function parseHeaders(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of block.replace(/\r\n[ \t]+/g, " ").split(/\r\n/)) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = decodeWords(line.slice(i + 1).trim());
  }
  return out;
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? "7bit").toLowerCase()) {
    case "base64":
      return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    case "quoted-printable": {
      const bytes = body.replace(/=\r\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
      return Buffer.from(bytes, "latin1").toString("utf8");
    }
    default:
      return body;
  }
}

/** Splits a message into headers and its text/plain and text/html parts (nested multiparts too). */
export function parseMail(raw: string): Pick<ReceivedMail, "headers" | "text" | "html"> {
  const split = (s: string): [string, string] => {
    const i = s.indexOf("\r\n\r\n");
    return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 4)];
  };
  const [head, body] = split(raw);
  const headers = parseHeaders(head);
  const out: { text?: string; html?: string } = {};
  const walk = (h: Record<string, string>, b: string): void => {
    const type = h["content-type"] ?? "text/plain";
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
    if (/^multipart\//i.test(type) && boundary) {
      for (const part of b.split(`--${boundary}`).slice(1)) {
        if (part.startsWith("--")) break;
        const [ph, pb] = split(part.replace(/^\r\n/, ""));
        walk(parseHeaders(ph), pb.replace(/\r\n$/, ""));
      }
    } else if (/^text\/html/i.test(type)) out.html = decodeBody(b, h["content-transfer-encoding"]);
    else if (/^text\/plain/i.test(type)) out.text = decodeBody(b, h["content-transfer-encoding"]);
  };
  walk(headers, body);
  return { headers, ...out };
}

/** An SMTP server on loopback without STARTTLS; with `auth`, login is required and checked. */
export async function startSmtpSink(opts: { auth?: { user: string; pass: string } } = {}): Promise<SmtpSink> {
  let mode: SmtpMode = { kind: "ok" };
  const messages: ReceivedMail[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const server = new SMTPServer({
    secure: false,
    disabledCommands: opts.auth ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) callback(null, { user: auth.username });
      else callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (mode.kind === "reject") {
          callback(Object.assign(new Error(mode.message ?? `rejected with ${mode.code}`), { responseCode: mode.code }));
          return;
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        const parsed = parseMail(raw);
        const mailFrom = session.envelope.mailFrom;
        messages.push({
          envelope: { from: mailFrom ? mailFrom.address : "", to: session.envelope.rcptTo.map((r) => r.address) },
          headers: parsed.headers,
          subject: parsed.headers.subject ?? "",
          messageId: parsed.headers["message-id"] ?? "",
          ...(parsed.text !== undefined ? { text: parsed.text } : {}),
          ...(parsed.html !== undefined ? { html: parsed.html } : {}),
          raw,
          ...(typeof session.user === "string" ? { user: session.user } : {}),
        });
        callback();
        events.emit("arrived");
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    smarthost: `127.0.0.1:${port}`,
    messages,
    setMode: (m) => {
      mode = m;
    },
    waitFor: (n, timeoutMs = 10_000) => waitCount(events, messages, n, timeoutMs, "messages"),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A realistic notification: incident `inc_20260301_1200_abc123` on checkout/prod, P1, two alerts. */
export function notificationFixture(
  over: { kind?: MomentKind; receiver?: string; integration?: IntegrationKind } & Partial<Omit<IncidentNotification, "moment">> & { moment?: Partial<IncidentNotification["moment"]> } = {},
): IncidentNotification {
  const { kind = "opened", receiver = "default", integration = "webhook", moment, ...rest } = over;
  const incidentId = "inc_20260301_1200_abc123";
  const momentId = kind === "opened" ? "opened" : kind === "repeat" ? "repeat-1" : kind === "escalated" ? "escalated-P0" : `${kind}-1a2b3c`;
  const resolved = kind === "resolved";
  return {
    key: `${incidentId}.${momentId}.${receiver}`,
    receiver,
    integration,
    moment: { kind, incident_id: incidentId, moment_id: momentId, at: "2026-03-01T12:00:05.000Z", seq: 42, ...moment },
    incident: {
      id: incidentId,
      service: "checkout",
      env: "prod",
      severity: "P1",
      title: "checkout error rate above 5%",
      status: resolved ? "closed" : "open",
      started_at: "2026-03-01T12:00:00.000Z",
      ...(resolved ? { closed_at: "2026-03-01T13:00:00.000Z", resolution: "auto-resolved" } : {}),
      ...(kind === "acknowledged" ? { acknowledged_at: "2026-03-01T12:10:00.000Z", acknowledged_by: "alice" } : {}),
      alert_count: 2,
      reopened_count: 0,
      labels: { kind: "error_rate", source: "prometheus", alertname: "HighErrorRate", region: "eu-west-1" },
    },
    alerts: [
      {
        alert_ref: "alrt_20260301_120000_00000001",
        fingerprint: "a1b2c3d4e5f60718",
        status: resolved ? "resolved" : "firing",
        labels: { alertname: "HighErrorRate", service: "checkout", env: "prod", severity: "P1", instance: "web-1" },
        annotations: { summary: "5xx above 5% for 5m", runbook: "https://runbooks.example.com/checkout" },
        starts_at: "2026-03-01T12:00:00.000Z",
        ...(resolved ? { ends_at: "2026-03-01T12:55:00.000Z" } : {}),
        generator_url: "http://prometheus.example.com/graph?g0.expr=errors",
      },
      {
        alert_ref: "alrt_20260301_120001_00000002",
        fingerprint: "0f1e2d3c4b5a6978",
        status: resolved ? "resolved" : "firing",
        labels: { alertname: "HighErrorRate", service: "checkout", env: "prod", severity: "P1", instance: "web-2" },
        annotations: { summary: "5xx above 5% for 5m", runbook: "https://runbooks.example.com/checkout" },
        starts_at: "2026-03-01T12:00:01.000Z",
      },
    ],
    truncated_alerts: 0,
    route: { path: "0", group_key: '{}/{service="checkout"}:{env="prod", service="checkout"}', group_labels: { service: "checkout", env: "prod" } },
    created_at: "2026-03-01T12:00:06.000Z",
    group_interval_ms: 300_000,
    ack_url: "https://opsbus.example.com/ack/inc_20260301_1200_abc123?sig=deadbeef",
    external_url: "https://opsbus.example.com",
    ...rest,
  } as IncidentNotification;
}
