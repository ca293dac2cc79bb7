/**
 * `POST /api/v2/alerts`: a JSON array of Alertmanager alerts. Each is mapped (alerts/am-mapping.ts)
 * and checked by the same normalizer the ingest worker runs; the valid ones go to JetStream as ONE
 * batch message: the request's own bytes when every alert is valid (the worker maps them the same
 * way), else the valid alerts mapped. The answer waits for its PubAck: `200` with an empty body (exactly what
 * Alertmanager answers: Prometheus and amtool treat any other 2xx as a failure), `400` with a
 * JSON string naming each invalid alert by index and field (the valid ones are still published,
 * as Alertmanager keeps them), `503` when JetStream does not take the batch, so the sender retries.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { isUtf8 } from "node:buffer";
import { encodeBatch, encodeRawBatch, publishBatchBytes, type BatchMessageBytes } from "../../alerts/batch.js";
import { jsonBytesOver } from "../../alerts/json-size.js";
import { makeAlertNormalizer, makeAlertValidityProof } from "../../alerts/normalize.js";
import { OpsError } from "../../errors.js";
import { nestsDeeperThan } from "../../gateway/decode.js";
import type { GatewayDeps } from "../../gateway/types.js";
import { ALERTMANAGER_VIA, MAX_ALERTS_PER_BATCH } from "../../subjects/index.js";
import type { Caller } from "../../tools/types.js";
import { audit, callerOf, failureOf, permit, sendAmError } from "./access.js";
import type { AlertmanagerDeps } from "./deps.js";
import { makeAmMapper, type AmAlertPayload } from "../../alerts/am-mapping.js";

export const VIA = ALERTMANAGER_VIA;

/** Room for the batch envelope around the alerts when checking the NATS max_payload. */
const ENVELOPE_BYTES = 512;

/** The valid payloads, and one reason line per invalid alert (`alert 3: labels: required`). */
export interface Checked {
  valid: AmAlertPayload[];
  reasons: string[];
  /**
   * Some valid alert has no `endsAt`: it ends `resolve_timeout` after this receipt (and, with no
   * `startsAt` either, starts at it). The same body sent again later is then a new sighting that
   * must refresh the alert, not a retry for JetStream to drop as a duplicate.
   */
  receiptTimed: boolean;
  /** Indexes in `valid` of the alerts resolved as of the receipt (their `endsAt` is past). */
  resolved: number[];
}

/**
 * What the message id hashes beside the request's bytes: the same bytes are a retry only while
 * they mean the same. An alert without `endsAt` ends (and may start) from the receipt, so every
 * receipt is another message. And an `endsAt` passes: vmalert resolves an alert with the very
 * `endsAt` its firing send four evaluations earlier named (Prometheus can too), so the resolve's
 * bytes equal that firing's, and JetStream would drop the resolve as a retry of it.
 */
export function batchSalt(checked: Pick<Checked, "receiptTimed" | "resolved">, receivedAt: string): string {
  if (checked.receiptTimed) return receivedAt;
  return checked.resolved.length ? `resolved:${checked.resolved.join(",")}` : "";
}

/**
 * The worker's own checks on each mapped alert, so a 200 never covers an alert it then refuses:
 * the normalizer, and the entry size (`alerts.max_payload_bytes`, measured on the mapped entry as
 * the worker measures it). A mapped alert the validity proof vouches for skips the normalizer.
 */
export function makeAlertChecker(d: Pick<AlertmanagerDeps, "policies">) {
  const { alertRouting, intake } = d.policies;
  const map = makeAmMapper(intake.alertmanager, alertRouting.alerts);
  const normalize = makeAlertNormalizer(alertRouting);
  const provablyValid = makeAlertValidityProof(alertRouting.alerts);
  const maxBytes = alertRouting.alerts.max_payload_bytes;
  return function check(alerts: readonly unknown[], now: Date): Checked {
    const valid: AmAlertPayload[] = [];
    const reasons: string[] = [];
    const resolved: number[] = [];
    let receiptTimed = false;
    for (let i = 0; i < alerts.length; i++) {
      const mapped = map(alerts[i], now);
      const normalized = !mapped.ok || provablyValid(mapped.payload) ? mapped : normalize(mapped.payload);
      if (!normalized.ok) {
        for (const r of normalized.reasons) reasons.push(`alert ${i}: ${r}`);
        continue;
      }
      if (!mapped.ok) continue;
      const bytes = jsonBytesOver(mapped.payload, maxBytes);
      if (bytes !== undefined) {
        reasons.push(`alert ${i}: payload_too_large: ${bytes} bytes, limit ${maxBytes}`);
        continue;
      }
      if (mapped.payload.status === "resolved") resolved.push(valid.length);
      valid.push(mapped.payload);
      // Not "starts_at equals now": an explicit startsAt may name this very millisecond.
      if (mapped.payload.ends_at === undefined) receiptTimed = true;
    }
    return { valid, reasons, receiptTimed, resolved };
  };
}

function parseBody(body: Buffer): unknown[] {
  const text = body.toString("utf8");
  if (nestsDeeperThan(text)) throw new OpsError("invalid_request", "parsing alerts body failed: nested too deep");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new OpsError("invalid_request", `parsing alerts body failed: ${(err as Error).message}`);
  }
  // `null` is no alerts, as Go decodes it into Alertmanager's slice: 200, nothing stored.
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) throw new OpsError("invalid_request", `parsing alerts body failed: expected a JSON array of alerts, got ${typeof parsed}`);
  if (parsed.length > MAX_ALERTS_PER_BATCH) throw new OpsError("invalid_request", `${parsed.length} alerts in one request; at most ${MAX_ALERTS_PER_BATCH}`);
  return parsed;
}

/**
 * All valid: the request's bytes as they came (no alert written again; the worker maps them), when
 * they are UTF-8 the worker's strict decoder takes as they are and fit a NATS message. Else the
 * valid alerts, mapped.
 */
function batchMessage(
  d: Pick<AlertmanagerDeps, "subjects">,
  envelope: { v: 1; via: string; received_at: string; caller: string },
  body: Buffer,
  checked: Checked,
  maxPayload: number | undefined,
): BatchMessageBytes {
  const { valid } = checked;
  const allValid = checked.reasons.length === 0;
  const salt = batchSalt(checked, envelope.received_at);
  if (allValid && (maxPayload === undefined || body.length + ENVELOPE_BYTES <= maxPayload) && isUtf8(body)) {
    return encodeRawBatch(d.subjects, { ...envelope, format: "alertmanager-v2" }, body, salt);
  }
  return encodeBatch(d.subjects, { envelope, entries: valid.map((p) => JSON.stringify(p)) }, salt);
}

export function postAlertsHandler(g: GatewayDeps, d: AlertmanagerDeps) {
  const check = makeAlertChecker(d);
  const cfg = d.policies.intake.alertmanager;
  const now = d.now ?? (() => new Date());
  const log = g.logger.child({ component: "alertmanager-api" });

  return async function postAlerts(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const startedAt = now();
    const started = performance.now();
    let caller: Caller | undefined;
    const params: Record<string, unknown> = {};
    try {
      caller = callerOf(g, request);
      permit(g, caller, "tools.alerts.ingest");
      const body = request.body;
      if (!Buffer.isBuffer(body)) throw new OpsError("invalid_request", "the body must be a JSON array of alerts");
      const alerts = parseBody(body);
      const checked = check(alerts, startedAt);
      const { valid, reasons } = checked;
      Object.assign(params, { alerts: alerts.length, valid: valid.length, invalid: alerts.length - valid.length });
      if (valid.length) {
        const envelope = { v: 1 as const, via: VIA, received_at: startedAt.toISOString(), caller: caller.agent_id };
        const maxPayload = d.nc.info?.max_payload;
        const message = batchMessage(d, envelope, body, checked, maxPayload);
        const size = message.alertsBytes + ENVELOPE_BYTES;
        if (maxPayload !== undefined && size > maxPayload) {
          throw new OpsError("payload_too_large", `the alerts make a ${size}-byte message, over the NATS max_payload of ${maxPayload}; send fewer per request`);
        }
        try {
          const published = await publishBatchBytes(d.js, message, cfg.publish_timeout_ms);
          Object.assign(params, { stream_seq: published.stream_seq, duplicate: published.duplicate });
        } catch (err) {
          log.warn({ err, alerts: valid.length }, "alert batch not taken by JetStream; answering 503");
          throw new OpsError("unavailable", `JetStream did not take the alerts: ${(err as Error).message}`);
        }
      }
      if (reasons.length) {
        const message = reasons.join("; ");
        audit(g, request, { action: "post_alerts", caller, status: "invalid_request", params, message, startedAt, started });
        return sendAmError(reply, "invalid_request", message);
      }
      audit(g, request, { action: "post_alerts", caller, status: "ok", params, startedAt, started });
      return reply.code(200).send();
    } catch (err) {
      const { code, message } = failureOf(err);
      if (code === "internal") log.error({ err }, "POST /api/v2/alerts failed");
      audit(g, request, { action: "post_alerts", ...(caller ? { caller } : {}), status: code, params, message, startedAt, started });
      return sendAmError(reply, code, message);
    }
  };
}
