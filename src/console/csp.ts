/**
 * The console's Content-Security-Policy: scripts and styles only from this origin or carrying the
 * response's nonce (no inline handler, no eval, no other host), no framing, no plugins, no base
 * or form retargeting; violations are reported to /console/csp-report. Plus the headers every
 * console answer carries.
 */
import { randomBytes } from "node:crypto";

export const CSP_REPORT_PATH = "/console/csp-report";

/** 128 random bits, base64: a new one per response. */
export const newNonce = (): string => randomBytes(16).toString("base64");

export function contentSecurityPolicy(nonce: string, reportUri: string = CSP_REPORT_PATH): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
    `report-uri ${reportUri}`,
  ].join("; ");
}

/** On every console answer, pages or JSON. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
};
