/**
 * The one place where a tool reply becomes an HTTP status. Errors take their code's status
 * (`HTTP_STATUS`, the same table the services-API headers use); a success whose result says
 * `accepted: false` (alert_ingest_tool.ingest refusing an alert, with its reasons) is 422, so a
 * client that only checks the status does not take a refused alert for a stored one.
 */
import { HTTP_STATUS } from "../errors.js";
import type { ToolReply } from "../subjects/index.js";

export const REFUSED_STATUS = 422;

function refusedResult(result: unknown): boolean {
  return typeof result === "object" && result !== null && (result as { accepted?: unknown }).accepted === false;
}

export function statusOf(reply: ToolReply): number {
  if (!reply.ok) return HTTP_STATUS[reply.error.code];
  return refusedResult(reply.result) ? REFUSED_STATUS : 200;
}
