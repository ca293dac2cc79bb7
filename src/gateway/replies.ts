/**
 * The one place where failures become wire replies: the `{ok:false, error}` envelope and the
 * services-API status (`Nats-Service-Error-Code`) that goes with it.
 */
import { HTTP_STATUS, OpsError, toOpsError } from "../errors.js";
import { scrubSecrets, type Logger } from "../log.js";
import type { ToolReply } from "../subjects/index.js";

export function okReply<T>(result: T): ToolReply<T> {
  return { ok: true, result };
}

/** The reply for a failure; the message is scrubbed of bearer keys and DSN passwords. */
export function errorReply(err: OpsError): ToolReply<never> {
  const wire = err.toWire();
  return { ok: false, error: { ...wire, message: scrubSecrets(wire.message) } };
}

/**
 * Anything thrown, as an OpsError. Unknown errors are logged with their stack (through the
 * logger's redacting serializer) and become `internal` without their text reaching the caller.
 */
export function classifyError(err: unknown, logger: Logger): OpsError {
  if (err instanceof OpsError) return err;
  logger.error({ err }, "tool call failed with an unexpected error");
  return toOpsError(err);
}

/** The services-API error status of a reply, or undefined for a success. */
export function serviceStatusOf(reply: ToolReply): { code: number; description: string } | undefined {
  if (reply.ok) return undefined;
  // A header value is one line.
  return { code: HTTP_STATUS[reply.error.code], description: reply.error.message.replace(/[\r\n]+/g, " ") };
}

const encoder = new TextEncoder();

/** JSON bytes of a reply; a result that is not serialisable becomes an `internal` reply. */
export function encodeReply(reply: ToolReply, logger: Logger): { reply: ToolReply; bytes: Uint8Array } {
  try {
    return { reply, bytes: encoder.encode(JSON.stringify(reply)) };
  } catch (err) {
    const fallback = errorReply(classifyError(err, logger));
    return { reply: fallback, bytes: encoder.encode(JSON.stringify(fallback)) };
  }
}
