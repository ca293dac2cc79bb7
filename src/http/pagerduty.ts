/**
 * PagerDuty Events API v2 on the HTTP listener: `POST /v2/enqueue` (and `/v2/enqueue/`), so any
 * monitor with a PagerDuty integration (Grafana, Datadog, Sentry, Uptime Kuma, …) can send here.
 * - trigger / resolve: one AlertBatchMessage (via `pagerduty`) answered 202 only after the PubAck,
 *   503 when JetStream does not take it (the sender retries).
 * - acknowledge: the incident of the dedup key's alert is acknowledged (pagerduty-ack.ts).
 * - 400 with PagerDuty's error body for a bad event or an unknown routing key, nothing published;
 *   429 past the key's rate. Every request leaves one audit record (channel http) naming the
 *   routing key by its configured name, never the key.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { publishAlertBatch } from "../alerts/batch.js";
import type { AlertStore } from "../alerts/store.js";
import type { AuditRecord } from "../audit/store.js";
import type { Policies } from "../config/policies.js";
import type { ErrorCode } from "../errors.js";
import { makeEntryCheck, type EntryCheck } from "../alerts/entry-check.js";
import { headerValue } from "../gateway/auth.js";
import { nestsDeeperThan } from "../gateway/decode.js";
import { RateLimiter } from "../gateway/rateLimit.js";
import type { GatewayDeps } from "../gateway/types.js";
import { newId } from "../ids.js";
import type { SignatureConfig } from "../incidents/signature.js";
import type { IncidentStore } from "../incidents/store.js";
import { PAGERDUTY_VIA, type Subjects } from "../subjects/index.js";
import { isBodyError, routeOnly, sendEdgeError } from "./edge.js";
import { acknowledge, INTAKE_ROLE, type AckOutcome } from "./pagerduty-ack.js";
import { resolveRoutingKeys, type PagerDutyIntakeConfig, type RoutingTarget } from "./pagerduty-config.js";
import { alertOfEvent, inEventTerms, validateEvent, type PdEvent } from "./pagerduty-event.js";
import { callHeadersOf } from "./tools.js";

export const ENQUEUE_PATH = "/v2/enqueue";
/** The audit's tool name for a request on this route. */
export const AUDIT_TOOL = "pagerduty_events";
/** PagerDuty refuses events over 512 KB. */
export const PD_BODY_LIMIT_BYTES = 512 * 1024;

export interface PagerDutyDeps {
  js: JetStreamClient;
  subjects: Subjects;
  config: PagerDutyIntakeConfig;
  /** Where `${VAR}` routing keys are resolved; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  alerts: Pick<AlertStore, "list">;
  incidents: Pick<IncidentStore, "signatureState">;
  /** alert_routing_policy.yml `incidents` (the signature an acknowledge follows to its incident). */
  signature: SignatureConfig;
  /** alert_routing_policy.yml `max_labels`. */
  maxLabels: number;
  /** What the ingest worker would refuse: such an event is 400 here, never 202 then dropped. */
  check: EntryCheck;
  now?: () => Date;
  publishTimeoutMs?: number;
}

/** The deps from what a process has: its policies (intake.yml, alert routing), stores and JetStream. */
export function pagerDutyDepsOf(o: {
  js: JetStreamClient;
  subjects: Subjects;
  policies: Pick<Policies, "intake" | "alertRouting">;
  alerts: PagerDutyDeps["alerts"];
  incidents: PagerDutyDeps["incidents"];
  now?: () => Date;
}): PagerDutyDeps {
  return {
    js: o.js,
    subjects: o.subjects,
    config: o.policies.intake.pagerduty,
    alerts: o.alerts,
    incidents: o.incidents,
    signature: o.policies.alertRouting.incidents,
    maxLabels: o.policies.alertRouting.alerts.max_labels,
    check: makeEntryCheck(o.policies.alertRouting, o.now),
    ...(o.now ? { now: o.now } : {}),
  };
}

export interface PagerDutyRouteOptions {
  gateway: GatewayDeps;
  /** Absent when the process has no intake wiring: the route answers 503. */
  pagerduty?: PagerDutyDeps;
}

const ECHOABLE_ID = /^[\x21-\x7e]{1,200}$/;

type PdBody = { status: string; message: string; dedup_key?: string; errors?: string[] };

interface Outcome {
  http: number;
  body: PdBody;
  status: "ok" | ErrorCode;
  target?: RoutingTarget;
  event?: PdEvent;
  detail?: Record<string, unknown>;
}

const invalid = (errors: string[], extra: Partial<Outcome> = {}): Outcome => ({
  http: 400,
  body: { status: "invalid event", message: "Event object is invalid", errors },
  status: "invalid_request",
  ...extra,
});
const accepted = (dedupKey: string, extra: Partial<Outcome> = {}): Outcome => ({
  http: 202,
  body: { status: "success", message: "Event processed", dedup_key: dedupKey },
  status: "ok",
  ...extra,
});

function parseBody(raw: unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  if (!Buffer.isBuffer(raw)) return { ok: false, error: "body must be a JSON object" };
  const text = raw.toString("utf8");
  if (nestsDeeperThan(text)) return { ok: false, error: "body nests too deeply" };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, error: "body is not valid JSON" };
  }
}

export const pagerDutyRoutes: FastifyPluginAsync<PagerDutyRouteOptions> = async (app, { gateway, pagerduty: pd }) => {
  const log = gateway.logger.child({ component: "pagerduty-intake" });
  const keys = pd ? resolveRoutingKeys(pd.config, pd.env ?? process.env) : undefined;
  if (keys?.unresolved.length) log.warn({ unset: keys.unresolved }, "PagerDuty routing keys whose environment variable is unset accept nothing");
  const limiter = new RateLimiter();
  const now = () => (pd?.now ?? gateway.now ?? (() => new Date()))();

  async function handle(d: PagerDutyDeps, byKey: ReadonlyMap<string, RoutingTarget>, rawBody: unknown, requestId: string | undefined): Promise<Outcome> {
    const parsed = parseBody(rawBody);
    if (!parsed.ok) return invalid([parsed.error]);
    const checked = validateEvent(parsed.value);
    if (!checked.ok) return invalid(checked.errors);
    const event = checked.event;
    const target = byKey.get(event.routing_key);
    if (!target) return invalid(["'routing_key' is invalid: not a routing key this server accepts"], { event });
    const rate = d.config.rate_per_minute;
    // Per key, not per name: two keys given the same name still have a bucket each.
    const decision = limiter.take(event.routing_key, { rate_per_minute: rate, burst: d.config.burst ?? rate }, Date.now());
    if (!decision.allowed) {
      return {
        http: 429,
        body: { status: "throttle event", message: `more than ${rate} events a minute for this routing key; retry in ${Math.ceil(decision.retryAfterMs / 1000)} s` },
        status: "rate_limited",
        target,
        event,
        detail: { retry_after_ms: decision.retryAfterMs },
      };
    }
    const at = now();
    const mapped = alertOfEvent(event, target, d.config, { now: at, maxLabels: d.maxLabels });
    if (!mapped.alert) {
      let ack: AckOutcome;
      try {
        ack = await acknowledge({ gateway, alerts: d.alerts, incidents: d.incidents, signature: d.signature }, target, mapped.dedup_key, at, requestId);
      } catch (err) {
        // The stores could not be read: the sender retries rather than the ack being dropped.
        log.warn({ err, routing_key_name: target.name, dedup_key: mapped.dedup_key }, "PagerDuty acknowledge failed: answered 503");
        return { http: 503, body: { status: "unavailable", message: "the acknowledge could not be recorded; retry" }, status: "unavailable", target, event };
      }
      if (ack.recorded !== "acknowledged") log.info({ routing_key_name: target.name, dedup_key: mapped.dedup_key, ...ack }, "PagerDuty acknowledge acknowledged no incident");
      return accepted(mapped.dedup_key, { target, event, detail: { ...ack } });
    }
    const refused = d.check(mapped.alert);
    if (refused.length) return invalid(refused.map((r) => inEventTerms(r, event.event_action)), { target, event });
    try {
      const published = await publishAlertBatch(
        d.js,
        d.subjects,
        { v: 1, via: PAGERDUTY_VIA, received_at: at.toISOString(), caller: `pagerduty:${target.name}`, alerts: [mapped.alert] },
        d.publishTimeoutMs,
      );
      return accepted(mapped.dedup_key, { target, event, detail: { stream_seq: published.stream_seq, duplicate: published.duplicate } });
    } catch (err) {
      log.warn({ err, routing_key_name: target.name, dedup_key: mapped.dedup_key }, "PagerDuty event not taken by JetStream: answered 503");
      return { http: 503, body: { status: "unavailable", message: "the event could not be stored; retry" }, status: "unavailable", target, event };
    }
  }

  function audit(o: Outcome, startedAt: Date, durationMs: number, requestId: string | undefined): void {
    try {
      const record: AuditRecord = {
        id: newId("aud"),
        ts: startedAt.toISOString(),
        agent_id: o.target ? `pagerduty:${o.target.name}` : "anonymous",
        role: INTAKE_ROLE,
        tool: AUDIT_TOOL,
        action: o.event?.event_action ?? "?",
        decision: o.status === "ok" || o.status === "unavailable" ? "allow" : "deny",
        status: o.status,
        duration_ms: durationMs,
        params: {
          ...(o.target ? { routing_key_name: o.target.name, service: o.target.service } : {}),
          ...(o.body.dedup_key ?? o.event?.dedup_key ? { dedup_key: o.body.dedup_key ?? o.event?.dedup_key } : {}),
          ...(o.detail ?? {}),
        },
        channel: "http",
        node_id: gateway.nodeId,
        ...(o.body.errors ? { error_message: o.body.errors.join("; ").slice(0, 1000) } : o.status !== "ok" ? { error_message: o.body.message } : {}),
        ...(requestId ? { request_id: requestId } : {}),
      };
      gateway.audit.write(record);
    } catch (err) {
      log.error({ err }, "could not audit a PagerDuty event");
    }
  }

  const route = async (request: FastifyRequest, reply: FastifyReply) => {
    const startedAt = now();
    const started = performance.now();
    const requestId = headerValue(callHeadersOf(request.raw), "x-request-id");
    const o: Outcome =
      pd && keys
        ? await handle(pd, keys.byKey, request.body, requestId)
        : { http: 503, body: { status: "unavailable", message: "the PagerDuty intake is not configured on this server" }, status: "unavailable" };
    audit(o, startedAt, Math.round((performance.now() - started) * 1000) / 1000, requestId);
    const retryMs = o.detail?.retry_after_ms;
    if (o.http === 429 && typeof retryMs === "number") reply.header("retry-after", Math.max(1, Math.ceil(retryMs / 1000)));
    // Echoed only when it is printable ASCII: anything else cannot go back in a header.
    if (requestId && ECHOABLE_ID.test(requestId)) reply.header("x-request-id", requestId);
    return reply.code(o.http).type("application/json").send(o.body);
  };
  // A body refused before the route (413 unread, 415 not JSON) is answered in PagerDuty's shape
  // and still leaves its one audit record; the rest of a refused body is never read.
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const code = err.statusCode;
    if (code === undefined || code < 400 || code >= 500) return sendEdgeError(err, request, reply, log);
    const message = code === 413 ? `body over ${PD_BODY_LIMIT_BYTES} bytes` : code === 415 ? "Content-Type must be application/json" : err.message;
    const o = invalid([message], { http: code, status: code === 413 ? "payload_too_large" : "invalid_request" });
    const requestId = headerValue(callHeadersOf(request.raw), "x-request-id");
    audit(o, now(), 0, requestId);
    if (isBodyError(err)) reply.header("connection", "close");
    return reply.code(code).type("application/json").send(o.body);
  });
  for (const url of [ENQUEUE_PATH, `${ENQUEUE_PATH}/`]) routeOnly(app, "POST", url, route, { bodyLimit: PD_BODY_LIMIT_BYTES });
};
