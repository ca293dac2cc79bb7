/**
 * Email over SMTP (nodemailer, pooled connections): a plain-text and an HTML part (every value
 * HTML-escaped), `Message-ID` made from the notification key so mail servers and clients drop a
 * duplicate, `In-Reply-To`/`References` to the incident's `opened` message so its moments thread,
 * and `X-Opsbus-Idempotency-Key`. An alert group's mail is titled as Alertmanager's and threads on
 * the group's first flush. SMTP 4xx replies and connection errors are tried again; 5xx
 * replies fail for good.
 */
import { createTransport } from "nodemailer";
import type { EmailConfig } from "../../config/receivers.js";
import type { Logger } from "../../log.js";
import type { GroupNotification, IncidentNotification as Notification, Integration, SendResult } from "../types.js";
import { alertLines, groupFacts, groupTitle } from "./group-text.js";
import { oneLine, redactor } from "./http.js";
import { facts, headline, momentLine } from "./text.js";

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
  inReplyTo?: string;
  references?: string;
}

/** `<key@opsbus>` with anything a Message-ID may not hold replaced. */
export function messageIdOf(key: string): string {
  return `<${key.replace(/[^A-Za-z0-9._=-]/g, "_").slice(0, 200)}@opsbus>`;
}

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

/** A header value on one line. */
const headerSafe = (s: string): string => s.replace(/[\r\n\t]+/g, " ").slice(0, 900);

export function buildEmail(n: Notification): EmailMessage {
  const rows = facts(n);
  const subject = headerSafe(headline(n));
  const links: Array<[string, string]> = [];
  if (n.ack_url && n.moment.kind !== "resolved" && n.moment.kind !== "acknowledged") links.push(["Acknowledge", n.ack_url]);
  if (n.external_url) links.push(["Open opsbus", n.external_url]);
  const alertLines = n.alerts.map((a) => `${a.status} ${a.labels.alertname ?? a.fingerprint}${a.annotations.summary ? `: ${a.annotations.summary}` : ""}`);
  if (n.truncated_alerts > 0) alertLines.push(`… and ${n.truncated_alerts} more`);

  const text = [
    headline(n),
    "",
    momentLine(n),
    "",
    ...rows.map(([k, v]) => `${k}: ${v}`),
    ...(alertLines.length ? ["", "Alerts:", ...alertLines.map((l) => `  - ${l}`)] : []),
    ...(links.length ? ["", ...links.map(([k, v]) => `${k}: ${v}`)] : []),
    "",
    `-- opsbus, ${n.key}`,
    "",
  ].join("\n");

  const h = escapeHtml;
  const html = [
    "<!doctype html><html><body style=\"font-family:sans-serif\">",
    `<h2>${h(headline(n))}</h2>`,
    `<p><strong>${h(momentLine(n))}</strong></p>`,
    "<table cellpadding=\"4\">",
    ...rows.map(([k, v]) => `<tr><th align="left">${h(k)}</th><td>${h(v)}</td></tr>`),
    "</table>",
    ...(alertLines.length ? ["<h3>Alerts</h3><ul>", ...alertLines.map((l) => `<li>${h(l)}</li>`), "</ul>"] : []),
    ...(links.length ? [`<p>${links.map(([k, v]) => `<a href="${h(v)}">${h(k)}</a>`).join(" · ")}</p>`] : []),
    `<p style="color:#888">opsbus · ${h(n.key)}</p>`,
    "</body></html>",
  ].join("\n");

  const thread = messageIdOf(`${n.incident.id}.opened.${n.receiver}`);
  const messageId = messageIdOf(n.key);
  return {
    subject,
    text,
    html,
    messageId,
    headers: { "X-Opsbus-Idempotency-Key": headerSafe(n.key), "X-Opsbus-Incident": headerSafe(n.incident.id) },
    ...(messageId !== thread ? { inReplyTo: thread, references: thread } : {}),
  };
}

/** An alert group's flush: `[FIRING:2] …` as the subject, the group's facts and its alerts; threaded on the group's first flush. */
export function buildGroupEmail(n: GroupNotification): EmailMessage {
  const title = groupTitle(n);
  const rows = groupFacts(n);
  const lines = alertLines(n);
  const links: Array<[string, string]> = n.external_url ? [["Open opsbus", n.external_url]] : [];
  const text = [title, "", ...rows.map(([k, v]) => `${k}: ${v}`), "", "Alerts:", ...lines.map((l) => `  - ${l}`), ...(links.length ? ["", ...links.map(([k, v]) => `${k}: ${v}`)] : []), "", `-- opsbus, ${n.key}`, ""].join("\n");
  const h = escapeHtml;
  const html = [
    "<!doctype html><html><body style=\"font-family:sans-serif\">",
    `<h2>${h(title)}</h2>`,
    "<table cellpadding=\"4\">",
    ...rows.map(([k, v]) => `<tr><th align="left">${h(k)}</th><td>${h(v)}</td></tr>`),
    "</table>",
    "<h3>Alerts</h3><ul>",
    ...lines.map((l) => `<li>${h(l)}</li>`),
    "</ul>",
    ...(links.length ? [`<p>${links.map(([k, v]) => `<a href="${h(v)}">${h(k)}</a>`).join(" · ")}</p>`] : []),
    `<p style="color:#888">opsbus · ${h(n.key)}</p>`,
    "</body></html>",
  ].join("\n");
  const thread = messageIdOf(`${n.group.id}.1.${n.receiver}`);
  const messageId = messageIdOf(n.key);
  return {
    subject: headerSafe(title),
    text,
    html,
    messageId,
    headers: { "X-Opsbus-Idempotency-Key": headerSafe(n.key), "X-Opsbus-Group": headerSafe(n.group.id) },
    ...(messageId !== thread ? { inReplyTo: thread, references: thread } : {}),
  };
}

/** An SMTP reply code's meaning: 4xx transient, 5xx permanent; no code (connection, TLS, timeout): transient. */
export function classifySmtpError(err: unknown, where: string, redact: (t: string) => string): SendResult {
  const e = err as { responseCode?: number; code?: string; response?: string; message?: string };
  const status = typeof e.responseCode === "number" && e.responseCode > 0 ? e.responseCode : undefined;
  const detail = oneLine(redact(e.response ?? e.message ?? String(err)), 200);
  const error = `${where}: ${status ? `SMTP ${status}` : e.code ?? "error"}: ${detail}`;
  if (status !== undefined && status >= 500) return { outcome: "failed", status, error };
  if (status === undefined && (e.code === "ECONFIG" || e.code === "EMAXRECIPIENTS")) return { outcome: "failed", error };
  return { outcome: "retry", ...(status !== undefined ? { status } : {}), error };
}

export interface EmailDeps {
  name: string;
  config: EmailConfig;
  password?: string;
  timeoutMs: number;
  logger?: Logger;
  /** Connections kept open to the smarthost (default 2). */
  maxConnections?: number;
}

export function emailIntegration(d: EmailDeps): Integration {
  const c = d.config;
  const where = `email "${d.name}" (${c.smarthost.host}:${c.smarthost.port})`;
  const redact = redactor(undefined, d.password ? [d.password] : []);
  const transport = createTransport({
    pool: true,
    maxConnections: d.maxConnections ?? 2,
    host: c.smarthost.host,
    port: c.smarthost.port,
    secure: c.smarthost.port === 465,
    requireTLS: c.require_tls && c.smarthost.port !== 465,
    ...(c.hello ? { name: c.hello } : {}),
    ...(c.auth && d.password ? { auth: { user: c.auth.username, pass: d.password } } : {}),
    connectionTimeout: d.timeoutMs,
    greetingTimeout: d.timeoutMs,
    socketTimeout: d.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // A pooled connection failing between sends is reported here, not thrown.
  transport.on("error", (err: unknown) => {
    const e = err as { code?: string; message?: string };
    d.logger?.warn({ receiver: d.name, code: e.code, error: oneLine(redact(e.message ?? String(err)), 200) }, "email receiver: SMTP connection error");
  });
  return {
    kind: "email",
    async send(n, signal) {
      const m = n.group ? buildGroupEmail(n) : buildEmail(n);
      if (signal.aborted) return { outcome: "retry", error: `${where}: aborted before sending (shutting down)` };
      const timeout = AbortSignal.timeout(d.timeoutMs);
      try {
        const info = await transport.sendMail({
          from: c.from,
          to: c.to,
          subject: m.subject,
          text: m.text,
          html: m.html,
          messageId: m.messageId,
          headers: m.headers,
          ...(m.inReplyTo ? { inReplyTo: m.inReplyTo, references: m.references } : {}),
          signal: AbortSignal.any([signal, timeout]),
        });
        const code = Number(/^(\d{3})/.exec(info.response ?? "")?.[1] ?? 250);
        return { outcome: "delivered", status: code };
      } catch (err) {
        if (signal.aborted) return { outcome: "retry", error: `${where}: aborted while sending (shutting down)` };
        if (timeout.aborted) return { outcome: "retry", error: `${where}: not sent within ${d.timeoutMs} ms` };
        return classifySmtpError(err, where, redact);
      }
    },
    async close() {
      transport.close();
    },
  };
}
