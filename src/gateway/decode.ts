import type { z } from "zod";
import { invalid, OpsError } from "../errors.js";
import { ToolRequest } from "../subjects/index.js";

/** A zod issue as the caller sees it in `error.details.issues`. */
export interface IssueDetail {
  path: string;
  message: string;
}

export function issueDetails(issues: readonly z.core.$ZodIssue[]): IssueDetail[] {
  return issues.map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message }));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Tool requests nest a few levels; JSON.parse of thousands of levels blocks the event loop for ms. */
export const MAX_BODY_NESTING = 64;
/** Shorter bodies cannot nest deep enough to cost anything worth a scan. */
const NESTING_SCAN_FROM_CHARS = 8192;

/** The quote at `at` follows an odd run of backslashes. */
function escaped(text: string, at: number): boolean {
  let k = at - 1;
  while (text.charCodeAt(k) === 92) k--;
  return (at - 1 - k) % 2 === 1;
}

/**
 * True when JSON text opens more than `max` arrays/objects at once (brackets inside strings do not
 * count). Stops at the first level past `max`, so a hostile body is refused after a short scan.
 */
export function nestsDeeperThan(text: string, max = MAX_BODY_NESTING): boolean {
  if (text.length < NESTING_SCAN_FROM_CHARS) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // A string: skip to its closing quote (indexOf, not char by char), one not escaped by an odd run of backslashes.
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return false;
      i = end;
    } else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** Size of a body as it arrived (bytes, text), or of its JSON form when a channel passes a value. */
export function bodySize(body: unknown): number {
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof body === "string") return Buffer.byteLength(body, "utf8");
  if (body === undefined) return 0;
  try {
    return Buffer.byteLength(JSON.stringify(body) ?? "", "utf8");
  } catch {
    throw invalid("request body is not serialisable as JSON");
  }
}

/** Refuses a body over `maxBytes` before anything parses it. */
export function checkSize(size: number, maxBytes: number): void {
  if (size > maxBytes) {
    throw new OpsError("payload_too_large", `request of ${size} bytes exceeds the limit of ${maxBytes} bytes`, {
      size_bytes: size,
      max_bytes: maxBytes,
    });
  }
}

/** The body as a JSON value: bytes and text are parsed, values from in-process channels pass through. */
export function parseBody(body: unknown): unknown {
  if (body === undefined || body === null) throw invalid("empty request body; expected a JSON object");
  let text: string;
  if (body instanceof Uint8Array) {
    try {
      text = utf8.decode(body);
    } catch {
      throw invalid("request body is not UTF-8 text");
    }
  } else if (typeof body === "string") {
    text = body;
  } else {
    return body;
  }
  if (!text.trim()) throw invalid("empty request body; expected a JSON object");
  if (nestsDeeperThan(text)) throw invalid(`request body nests deeper than ${MAX_BODY_NESTING} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalid(`request body is not JSON: ${(err as Error).message}`);
  }
}

/** The `{action, params, agent_id}` envelope, or `invalid_request` with the zod issues. */
export function parseEnvelope(raw: unknown): ToolRequest {
  const parsed = ToolRequest.safeParse(raw);
  if (!parsed.success) {
    throw invalid("request is not a tool request {action, params, agent_id}", { issues: issueDetails(parsed.error.issues) });
  }
  return parsed.data;
}

/** What an unparseable envelope still tells the audit log: action, claimed agent, params. */
export function salvageEnvelope(raw: unknown): { action?: string; agentId?: string; params?: unknown } {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return {};
  const r = raw as Record<string, unknown>;
  return {
    action: typeof r.action === "string" && r.action ? r.action.slice(0, 64) : undefined,
    agentId: typeof r.agent_id === "string" && r.agent_id ? r.agent_id.slice(0, 128) : undefined,
    params: r.params,
  };
}
