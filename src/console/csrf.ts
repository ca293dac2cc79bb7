/**
 * Cross-site request checks for console writes, two independent ones:
 * - same origin: a browser marks every POST with `Origin` and (current browsers) `Sec-Fetch-Site`;
 *   when present they must say this site. A client that sends neither is not a browser, so no
 *   other site's page can have made it send the request.
 * - the CSRF token: the session's own token in `X-CSRF-Token`, which a page of another origin can
 *   never read (it comes from GET /console/session, same-origin JSON).
 */
import { timingSafeEqual } from "node:crypto";

export const CSRF_HEADER = "x-csrf-token";

export type CsrfRefusal = "cross-site" | "origin mismatch" | "missing csrf token" | "bad csrf token";

export interface OriginFacts {
  origin: string | undefined;
  secFetchSite: string | undefined;
  /** This server's origins: `<scheme>://<Host header>` of the request, and OPSBUS_PUBLIC_URL's origin. */
  allowed: readonly string[];
}

/** The origin of a URL, or undefined. */
export function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.origin === "null" ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

/** Undefined when the request may come from this site; otherwise why not. */
export function sameOriginRefusal(f: OriginFacts): CsrfRefusal | undefined {
  if (f.secFetchSite !== undefined && f.secFetchSite !== "same-origin") return "cross-site";
  if (f.origin !== undefined && !f.allowed.includes(f.origin.toLowerCase())) return "origin mismatch";
  return undefined;
}

/** Undefined when `sent` is the session's token (compared in constant time). */
export function csrfTokenRefusal(expected: string, sent: string | undefined): CsrfRefusal | undefined {
  if (!sent) return "missing csrf token";
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(sent, "utf8");
  return a.length === b.length && timingSafeEqual(a, b) ? undefined : "bad csrf token";
}
