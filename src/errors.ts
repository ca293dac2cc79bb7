/**
 * Named errors with wire codes. Every failure that crosses a boundary (tool reply, rejected event,
 * consumer nak/term) is an OpsError or is mapped to one here, in one place.
 */

import { isTransient } from "./util/transient.js";

export const ERROR_CODES = [
  "invalid_request",
  "unauthenticated",
  "forbidden",
  "not_found",
  "conflict",
  "rate_limited",
  "payload_too_large",
  "unavailable",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Services-API numeric codes, so `nats req` shows a familiar status. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

export class OpsError extends Error {
  override name = "OpsError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** Worth retrying later (a backend is down), as opposed to a request that will never succeed. */
  get retryable(): boolean {
    return this.code === "unavailable" || this.code === "internal";
  }

  toWire(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export const invalid = (message: string, details?: unknown) => new OpsError("invalid_request", message, details);
export const notFound = (message: string, details?: unknown) => new OpsError("not_found", message, details);
export const conflict = (message: string, details?: unknown) => new OpsError("conflict", message, details);
export const unavailable = (message: string, details?: unknown) => new OpsError("unavailable", message, details);

/**
 * Anything thrown, as an OpsError. A transient infrastructure failure (database or bus not
 * reachable, pool exhausted; see util/transient.ts) becomes `unavailable`, so callers and workers
 * retry it; other unknown errors become `internal` without leaking their text.
 */
export function toOpsError(err: unknown): OpsError {
  if (err instanceof OpsError) return err;
  if (isTransient(err)) return new OpsError("unavailable", "a backend is unavailable right now; retry later");
  return new OpsError("internal", "internal error");
}
