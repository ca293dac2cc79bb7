/**
 * Who may use the Alertmanager API, and its one audit record per request. Auth is the gateway's
 * (`authenticate`, the RBAC matrix): in staging and prod a bearer key (Prometheus's
 * `alertmanagers[].authorization`) names an agent whose role must grant the entitlement; in dev
 * an unauthenticated sender is trusted, as publishing on `ops.alerts.in.*` is, and a key, when
 * sent, is still checked. Every request, allowed or refused, leaves one audit record (channel
 * `http`, tool `alertmanager_api`) through the gateway's audit sink, with counts, never alerts.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AuditRecord } from "../../audit/store.js";
import { OpsError, HTTP_STATUS, type ErrorCode } from "../../errors.js";
import { newId } from "../../ids.js";
import { scrubSecrets } from "../../log.js";
import { ANONYMOUS_AGENT, authenticate, headerValue } from "../../gateway/auth.js";
import type { GatewayDeps } from "../../gateway/types.js";
import type { Caller } from "../../tools/types.js";
import { callHeadersOf, HTTP_CHANNEL } from "../tools.js";

export const AM_AUDIT_TOOL = "alertmanager_api";
const MAX_AUDITED_MESSAGE = 2000;

/** The caller (an OpsError `unauthenticated` where a key is required and missing or unknown). */
export function callerOf(g: GatewayDeps, request: FastifyRequest): Caller {
  return authenticate({
    opsEnv: g.opsEnv,
    rbac: g.policies.rbac,
    apiKeys: g.apiKeys,
    headers: callHeadersOf(request.raw),
    claimedAgentId: undefined,
    channel: HTTP_CHANNEL,
  });
}

/** Throws `forbidden` unless the caller's role grants `entitlement` (a trusted dev sender passes). */
export function permit(g: GatewayDeps, caller: Caller, entitlement: string): void {
  if (!caller.authenticated && g.opsEnv === "dev") return;
  if (!caller.entitlements.has(entitlement)) {
    throw new OpsError("forbidden", `agent "${caller.agent_id}" (role ${caller.role}) lacks entitlement ${entitlement}`);
  }
}

/** What one request did, for its audit record. */
export interface RequestOutcome {
  action: string;
  caller?: Caller;
  status: "ok" | ErrorCode;
  params: Record<string, unknown>;
  message?: string;
  startedAt: Date;
  started: number;
}

export function audit(g: GatewayDeps, request: FastifyRequest, o: RequestOutcome): void {
  const requestId = headerValue(callHeadersOf(request.raw), "x-request-id");
  const record: AuditRecord = {
    id: newId("aud"),
    ts: o.startedAt.toISOString(),
    agent_id: o.caller?.agent_id ?? ANONYMOUS_AGENT,
    role: o.caller?.role ?? "unknown",
    tool: AM_AUDIT_TOOL,
    action: o.action,
    decision: o.caller && o.status !== "unauthenticated" && o.status !== "forbidden" ? "allow" : "deny",
    status: o.status,
    duration_ms: Math.round((performance.now() - o.started) * 1000) / 1000,
    params: o.params,
    channel: HTTP_CHANNEL,
    node_id: g.nodeId,
    ...(o.message !== undefined ? { error_message: scrubSecrets(o.message.slice(0, MAX_AUDITED_MESSAGE)) } : {}),
    ...(requestId ? { request_id: requestId.slice(0, 200) } : {}),
  };
  try {
    g.audit.write(record);
  } catch (err) {
    g.logger.error({ err }, "could not audit an Alertmanager API request");
  }
}

/** Alertmanager answers errors as a JSON string body and a newline (Go's encoder); so do we, with the status of the code. */
export function sendAmError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return sendAmMessage(reply, HTTP_STATUS[code], message);
}

/** A refusal whose status is already known (a body the edge refused): the same JSON string and newline. */
export function sendAmMessage(reply: FastifyReply, status: number, message: string): FastifyReply {
  return sendAmJson(reply, status, `${JSON.stringify(message)}\n`);
}

/**
 * JSON text with Alertmanager's exact `Content-Type: application/json`. Sent as bytes: for a
 * string fastify would add `; charset=utf-8`, which Alertmanager never sends.
 */
export function sendAmJson(reply: FastifyReply, status: number, json: string): FastifyReply {
  return reply.code(status).type("application/json").send(Buffer.from(json));
}

/** The code and message of anything thrown while serving a request (OpsErrors keep theirs). */
export function failureOf(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof OpsError) return { code: err.code, message: err.message };
  return { code: "internal", message: "internal error" };
}

/** What go-openapi's `swag.ConvertBool` reads as true (case-insensitive); anything else is false. */
const GO_TRUE = new Set(["true", "1", "yes", "ok", "y", "on", "selected", "checked", "t", "enabled"]);

/**
 * A boolean query switch as Alertmanager's generated server reads it (`swag.ConvertBool`): absent
 * or empty is the default, a true word is true, anything else false, never a 400 (`active=1` and
 * `active=TRUE` list active alerts, `active=maybe` none).
 */
export function goBool(v: unknown, byDefault: boolean): boolean {
  const text = Array.isArray(v) ? v[0] : v;
  if (text === undefined || text === "") return byDefault;
  return GO_TRUE.has(String(text).toLowerCase());
}
