import { z } from "zod";
import type { AlertRoutingPolicy } from "../config/policies.js";
import { ingestAlerts, type IngestDeps } from "../alerts/ingest.js";
import type { AlertWork } from "../alerts/work.js";
import { ALERT_STATUSES, alertInputSchema } from "../subjects/index.js";
import { action, type ToolDef } from "./types.js";

export interface AlertToolDeps {
  ingest: IngestDeps;
  work: AlertWork;
  policy: AlertRoutingPolicy;
  retentionDays: number;
}

const Status = z.enum(ALERT_STATUSES);
/** Accepts `["new","failed"]` or `"new,failed"`, as agents send both. */
const StatusList = z.union([z.array(Status), z.string().transform((s) => s.split(",").map((x) => x.trim()))]).pipe(z.array(Status));
const Window = z.number().int().min(1).max(7 * 24 * 60).default(240);
const Ref = z.string().min(1).max(128);
const Settle = { alert_ref: Ref, owner: z.string().max(128).optional(), claim_id: z.string().max(64).optional() };

export function createAlertIngestTool(deps: AlertToolDeps): ToolDef {
  const inputDoc = alertInputSchema(deps.policy.alerts).extend({ idempotency_key: z.string().max(200).optional() });
  return {
    name: "alert_ingest_tool",
    description: "Alerts: ingest with dedupe, list, claim/ack/fail work, dashboard, retention.",
    actions: {
      ingest: action({
        entitlement: "tools.alerts.ingest",
        description: "Ingest one alert; answers {accepted, deduped, alert_ref, occurrences} or {accepted:false, reasons}.",
        // Validation happens in the shared ingest path so a bad alert is answered accepted=false and kept.
        params: z.looseObject({ idempotency_key: z.string().min(1).max(200).optional() }),
        paramsDoc: inputDoc,
        async handler({ idempotency_key, ...alert }, h) {
          let raw: string;
          try {
            raw = JSON.stringify(alert);
          } catch {
            // Nested too deep to serialise (the stack overflows): the normaliser refuses it below.
            raw = JSON.stringify("(params nested too deeply to keep)");
          }
          const [outcome] = await ingestAlerts(deps.ingest, [
            {
              decoded: { ok: true, value: alert },
              ...(idempotency_key ? { receipt_key: `tool:${idempotency_key}` } : {}),
              subject: `alert_ingest_tool.ingest/${h.caller.agent_id}`,
              raw,
            },
          ]);
          if (!outcome!.accepted) return { accepted: false, reasons: outcome!.reasons };
          const { alert_ref, deduped, occurrences } = outcome!;
          return { accepted: true, deduped, alert_ref, occurrences };
        },
      }),
      list: action({
        entitlement: "tools.alerts.read",
        description: "Alerts last seen in the window, newest first, filtered.",
        params: z.strictObject({
          window_minutes: Window,
          env: z.string().optional(),
          service: z.string().optional(),
          source: z.string().optional(),
          fingerprint: z.string().optional(),
          status_in: StatusList.optional(),
          limit: z.number().int().min(1).max(500).default(50),
        }),
        async handler(p, h) {
          const alerts = await deps.ingest.store.list(p, h.now());
          return { count: alerts.length, alerts };
        },
      }),
      claim: action({
        entitlement: "tools.alerts.claim",
        description: "Claim up to `limit` alerts for processing; each is locked for lock_ttl_seconds (≤ ack_wait).",
        params: z.strictObject({
          limit: z.number().int().min(1).max(100).default(25),
          owner: z.string().min(1).max(128).optional(),
          lock_ttl_seconds: z.number().int().min(1).optional(),
          window_minutes: z.number().int().min(1).optional().describe("accepted for compatibility; work is handed out oldest first"),
        }),
        async handler(p, h) {
          const alerts = await deps.work.claim({
            limit: p.limit,
            owner: p.owner ?? h.caller.agent_id,
            ...(p.lock_ttl_seconds ? { lock_ttl_seconds: p.lock_ttl_seconds } : {}),
          });
          return { count: alerts.length, alerts };
        },
      }),
      ack: action({
        entitlement: "tools.alerts.ack",
        description: "Mark a claimed alert processed. Idempotent once acked.",
        params: z.strictObject({ ...Settle, note: z.string().max(2000).optional() }),
        async handler({ alert_ref, ...opts }) {
          const a = await deps.work.ack(alert_ref, opts);
          return { alert_ref, status: a.status, acked_at: a.acked_at };
        },
      }),
      fail: action({
        entitlement: "tools.alerts.ack",
        description: "Give a claimed alert back with an error; retried after retry_after_seconds, failed for good after max_deliver.",
        params: z.strictObject({
          ...Settle,
          error: z.string().min(1).max(2000),
          retry_after_seconds: z.number().int().min(0).max(24 * 3600).optional(),
        }),
        async handler({ alert_ref, ...opts }) {
          const a = await deps.work.fail(alert_ref, opts);
          return { alert_ref, status: a.status, dead: a.dead, attempts: a.attempts, retry_at: a.retry_at ?? null, last_error: a.last_error };
        },
      }),
      dashboard: action({
        entitlement: "tools.alerts.read",
        description: "Counts by status, top signatures and latest alerts in the window.",
        params: z.strictObject({ window_minutes: Window, latest: z.number().int().min(1).max(100).default(10) }),
        handler: (p, h) => deps.ingest.store.dashboard(p.window_minutes, h.now(), p.latest),
      }),
      retention: action({
        entitlement: "tools.alerts.admin",
        description: "Delete alerts last seen more than older_than_days ago (policy default).",
        params: z.strictObject({ older_than_days: z.number().int().min(1).max(3650).optional() }),
        async handler(p, h) {
          const days = p.older_than_days ?? deps.retentionDays;
          const deleted = await deps.ingest.store.purgeOlderThan(new Date(h.now().getTime() - days * 86_400_000));
          return { deleted, older_than_days: days };
        },
      }),
    },
  };
}
