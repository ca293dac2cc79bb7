/**
 * The session cookie: `opsbus_session`, HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it), Path=/, and Secure when the console is reached over TLS.
 */
export const SESSION_COOKIE = "opsbus_session";

/** `name=value` pairs of a Cookie header; the first of a repeated name wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

export interface CookieOptions {
  secure: boolean;
  /** Seconds; 0 clears the cookie. */
  maxAgeSeconds: number;
}

export function sessionCookie(value: string, o: CookieOptions): string {
  const parts = [`${SESSION_COOKIE}=${value}`, "Path=/", "HttpOnly", "SameSite=Strict", `Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`];
  if (o.secure) parts.push("Secure");
  return parts.join("; ");
}

export const clearedSessionCookie = (secure: boolean): string => sessionCookie("", { secure, maxAgeSeconds: 0 });
