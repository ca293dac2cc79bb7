import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import type { AlertRoutingPolicy } from "../config/policies.js";
import { ingestAlerts, type IngestDeps } from "../alerts/ingest.js";
import type { AlertWork } from "../alerts/work.js";
import { resolvedEvent } from "../alerts/resolve-sweep.js";
import { notFound } from "../errors.js";
import { ALERT_STATUSES, alertInputSchema, SEVERITIES } from "../subjects/index.js";
import { action, enumList, RetentionDays, type ToolDef } from "./types.js";

export interface AlertToolDeps {
  ingest: IngestDeps;
  work: AlertWork;
  policy: AlertRoutingPolicy;
  retentionDays: number;
}

const Window = z.number().int().min(1).max(7 * 24 * 60).default(240).describe("look-back window in minutes over last_seen_at (1–10080); default 240");
const Ref = z.string().min(1).max(128).describe("the alert_ref an ingest or claim answered");
const Settle = {
  alert_ref: Ref,
  owner: z.string().max(128).optional().describe("who holds the claim; default the calling agent"),
  claim_id: z.string().max(64).optional().describe("the claim_id claim answered for this alert; a stale claim is refused with conflict"),
};

/** The alert as ingest checks it (src/subjects/alerts.ts), each field described for discovery. */
function ingestDoc(policy: AlertRoutingPolicy) {
  const base = alertInputSchema(policy.alerts);
  const f = base.shape;
  // The server accepts P0–P3 and the configured names in any case, mapped onto P0–P3.
  const severities = [...new Set([...SEVERITIES, ...Object.keys(policy.alerts.severity_map)])] as [string, ...string[]];
  const mapped = Object.entries(policy.alerts.severity_map).map(([name, p]) => `${name}→${p}`).join(", ");
  return base.extend({
    service: f.service.describe("the service the alert is about: letters, digits, _ . : - (≤ 128 chars)"),
    title: f.title.describe("one-line summary; part of the derived fingerprint (≤ 512 chars); required unless status is resolved"),
    kind: f.kind.describe("what kind of signal (config alert_routing_policy.yml alerts.kinds); default custom"),
    severity: z.enum(severities).default("P2").describe(`P0 (most urgent) to P3, or a mapped name (${mapped}), any case; default P2`),
    env: f.env.describe("environment the alert comes from; default prod"),
    source: f.source.describe("who sent it, e.g. monitor@node1; default unknown"),
    message: f.message.describe(`details (≤ ${policy.alerts.max_text_chars} chars)`),
    fingerprint: f.fingerprint.describe("dedupe key; default derived from service + kind + title + labels"),
    labels: f.labels.describe(`key → string/number/boolean (at most ${policy.alerts.max_labels}); part of the derived fingerprint`),
    starts_at: f.starts_at.describe("when the problem began, ISO 8601 with offset; default now"),
    status: f.status.describe("firing (default) or resolved: a resolve needs only service and fingerprint"),
    ends_at: f.ends_at.describe(`when the alert stops firing unless sent again, ISO 8601; default ${policy.alerts.resolve_timeout_minutes} minutes after this sighting`),
    annotations: f.annotations.describe("key → text shown with the alert (e.g. summary, runbook_url); kept under meta"),
    generator_url: f.generator_url.describe("link to what produced the alert (e.g. the Prometheus expression); kept under meta"),
    dedupe_ttl_minutes: f.dedupe_ttl_minutes.describe(`minutes a repeat of this fingerprint counts as the same alert (1–10080); default ${policy.defaults.dedupe_ttl_minutes}`),
    idempotency_key: z.string().max(200).optional().describe("a retry with the same key answers the first ingest's result instead of counting a repeat"),
  });
}

export function createAlertIngestTool(deps: AlertToolDeps): ToolDef {
  const inputDoc = ingestDoc(deps.policy);
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
      resolve: action({
        entitlement: "tools.alerts.ingest",
        description: "Resolve an alert now (it stops firing; a later firing is a new occurrence with new work). Answers {resolved, alert_ref, resolved_at}; resolved:false when it already was.",
        params: z
          .strictObject({
            alert_ref: Ref.optional().describe("the alert to resolve; give this or fingerprint"),
            fingerprint: z.string().min(1).max(256).optional().describe("resolve the newest alert holding this fingerprint; give this or alert_ref"),
          })
          .refine((p) => (p.alert_ref === undefined) !== (p.fingerprint === undefined), { message: "give exactly one of alert_ref or fingerprint" }),
        async handler(p, h) {
          const store = deps.ingest.store;
          const now = h.now();
          const target = p.alert_ref !== undefined
            ? await store.get(p.alert_ref)
            : (await store.list({ fingerprint: p.fingerprint!, window_minutes: 7 * 24 * 60, limit: 1 }, now))[0];
          if (!target) throw notFound(p.alert_ref !== undefined ? `alert ${p.alert_ref} not found` : `no alert holds fingerprint ${p.fingerprint}`);
          const resolved = await store.resolve(target.alert_ref, now);
          if (!resolved) return { resolved: false, alert_ref: target.alert_ref, resolved_at: target.resolved_at ?? null };
          await deps.ingest.events.publish("alert.resolved", resolvedEvent(resolved, "tool"), `resolved:${resolved.alert_ref}:${resolved.resolved_at}`);
          return { resolved: true, alert_ref: resolved.alert_ref, resolved_at: resolved.resolved_at };
        },
      }),
      list: action({
        entitlement: "tools.alerts.read",
        description: "Alerts last seen in the window, newest first, filtered.",
        params: z.strictObject({
          window_minutes: Window,
          env: z.enum(OPS_ENVS).optional().describe("only alerts of this environment; default all"),
          service: z.string().optional().describe("only alerts of this service (exact name); default all"),
          source: z.string().optional().describe("only alerts from this source (exact, e.g. monitor@node1); default all"),
          fingerprint: z.string().optional().describe("only the alert with this fingerprint; default all"),
          status_in: enumList(ALERT_STATUSES).optional().describe("only alerts in these work states (one, a list, or comma-separated); default all"),
          state: z.enum(["firing", "resolved"]).optional().describe("only firing or only resolved alerts (resolved: resolved_at set or ends_at passed); default both"),
          limit: z.number().int().min(1).max(500).default(50).describe("most alerts answered (1–500); default 50"),
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
          limit: z.number().int().min(1).max(100).default(25).describe("most alerts to claim (1–100); default 25"),
          owner: z.string().min(1).max(128).optional().describe("who holds the claims; default the calling agent"),
          lock_ttl_seconds: z.number().int().min(1).optional().describe(`seconds each claim stays locked, at most ack_wait (${deps.policy.work.ack_wait_seconds}); default ack_wait`),
          window_minutes: z.number().int().min(1).optional().describe("ignored, accepted for compatibility: work is handed out oldest first"),
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
        params: z.strictObject({ ...Settle, note: z.string().max(2000).optional().describe("what was done, kept on the alert (≤ 2000 chars)") }),
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
          error: z.string().min(1).max(2000).describe("why processing failed, kept as last_error (≤ 2000 chars)"),
          retry_after_seconds: z.number().int().min(0).max(24 * 3600).optional().describe(`seconds before the alert can be claimed again (0–86400); default by attempt: ${deps.policy.work.backoff_seconds.join(", ")}`),
        }),
        async handler({ alert_ref, ...opts }) {
          const a = await deps.work.fail(alert_ref, opts);
          return { alert_ref, status: a.status, dead: a.dead, attempts: a.attempts, retry_at: a.retry_at ?? null, last_error: a.last_error };
        },
      }),
      dashboard: action({
        entitlement: "tools.alerts.read",
        description: "Counts by status, top signatures and latest alerts in the window.",
        params: z.strictObject({
          window_minutes: Window,
          latest: z.number().int().min(1).max(100).default(10).describe("how many of the newest alerts to include (1–100); default 10"),
        }),
        handler: (p, h) => deps.ingest.store.dashboard(p.window_minutes, h.now(), p.latest),
      }),
      retention: action({
        entitlement: "tools.alerts.admin",
        description: "Delete alerts last seen more than older_than_days ago (policy default).",
        params: z.strictObject({
          older_than_days: RetentionDays.optional().describe(`delete alerts last seen more than this many days ago (1–3650); default ${deps.retentionDays} (data_governance.yml)`),
        }),
        async handler(p, h) {
          const days = p.older_than_days ?? deps.retentionDays;
          const deleted = await deps.ingest.store.purgeOlderThan(new Date(h.now().getTime() - days * 86_400_000));
          return { deleted, older_than_days: days };
        },
      }),
    },
  };
}
