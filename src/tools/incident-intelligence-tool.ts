/** `incident_intelligence_tool`: correlation, recurrence and the weekly digest (config/incident_intelligence.yml). */
import { z } from "zod";
import type { IncidentIntelligence } from "../config/policies.js";
import { OpsError } from "../errors.js";
import { INCIDENT_ID_RE } from "../incidents/artifacts.js";
import { correlate, recurrence, weeklyDigest, type CorrelationResult } from "../incidents/intelligence.js";
import type { EventPublisher } from "../nats/events.js";
import type { AlertStore } from "../alerts/store.js";
import type { IncidentStore } from "../incidents/store.js";
import { action, type ToolDef } from "./types.js";

export interface IncidentIntelligenceToolDeps {
  incidents: IncidentStore;
  /** Not needed by these actions today; accepted so the wiring matches the report builders'. */
  alerts?: AlertStore;
  policy: IncidentIntelligence;
  /** `<reportsDir>/incidents/weekly/YYYY-WW.{json,md}` */
  reportsDir: string;
  /** When given, an appended correlation note is published as incident.updated. */
  events?: EventPublisher;
}

const READ = "tools.incidents.read";
const WRITE = "tools.incidents.write";

export function correlationNote(r: CorrelationResult): string {
  if (r.related.length === 0) return `Correlation: no related incidents in ${r.lookback_days} days (${r.candidates} candidates).`;
  const parts = r.related.map((x) => `${x.incident_id} (score ${x.score}: ${x.reasons.join(", ")})`);
  return `Correlation: ${r.related.length} related incident(s): ${parts.join("; ")}`;
}

export function createIncidentIntelligenceTool(deps: IncidentIntelligenceToolDeps): ToolDef {
  const { policy } = deps;
  return {
    name: "incident_intelligence_tool",
    description: "Incident intelligence: related incidents with scores and reasons, recurring signatures and services, the weekly digest.",
    actions: {
      correlate: action({
        entitlement: READ,
        description: "Incidents related to one (signature, service, kind, time proximity), scored 0–100; append_note (needs tools.incidents.write) records the result on its timeline.",
        params: z.strictObject({
          incident_id: z
            .string()
            .regex(INCIDENT_ID_RE, "incident_id must look like inc_YYYYMMDD_HHMM_<hex>")
            .describe("the incident to find relatives of, e.g. inc_20260223_1000_ab12cd"),
          append_note: z.boolean().default(false).describe("also record the result as a note on its timeline (needs tools.incidents.write); default false"),
        }),
        async handler(p, h) {
          // Checked before any work: reading is allowed to more roles than writing the note.
          if (p.append_note && !h.caller.entitlements.has(WRITE)) {
            throw new OpsError("forbidden", `append_note needs ${WRITE}`, { entitlement: WRITE });
          }
          const now = h.now();
          const result = await correlate(deps.incidents, p.incident_id, policy.correlation, now);
          if (!p.append_note) return result;
          const { event, replayed } = await deps.incidents.appendEvent(
            p.incident_id,
            {
              type: "note",
              message: correlationNote(result),
              author: h.caller.agent_id,
              meta: { source: "incident_intelligence_tool.correlate", related: result.related.map((r) => ({ incident_id: r.incident_id, score: r.score, reasons: r.reasons })) },
            },
            now,
          );
          if (deps.events && !replayed) {
            await deps.events
              .publish("incident.updated", { incident_id: p.incident_id, event_id: event.id, event_type: "note", by: h.caller.agent_id }, event.id)
              .catch((err: unknown) => h.logger.warn({ err, incident_id: p.incident_id }, "incident event publish failed (the store has the note)"));
          }
          return { ...result, note_event_id: event.id };
        },
      }),
      recurrence: action({
        entitlement: READ,
        description: "Signatures and services with repeated incidents in the last window_days: counts, the previous window's count, trend and level.",
        params: z.strictObject({
          window_days: z
            .number()
            .int()
            .min(1)
            .max(365)
            .default(policy.recurrence.window_days)
            .describe(`look-back window in days (1–365); default ${policy.recurrence.window_days} (incident_intelligence.yml)`),
        }),
        handler: (p, h) => recurrence(deps.incidents, p.window_days, policy.recurrence, h.now()),
      }),
      weekly_digest: action({
        entitlement: WRITE,
        description: "The digest of an ISO week (default: the last complete one): totals, MTTR, top incidents, recurrence, overdue follow-ups; save_artifacts writes incidents/weekly/YYYY-WW.{json,md} under the reports dir.",
        params: z.strictObject({
          week: z.string().regex(/^\d{4}-W?\d{2}$/, "week must be YYYY-WW").optional().describe("ISO week as YYYY-WW or YYYY-Www; default the last complete week"),
          save_artifacts: z.boolean().default(true).describe("write incidents/weekly/YYYY-WW.{json,md} under the reports dir; default true"),
        }),
        handler: (p, h) =>
          weeklyDigest(deps.incidents, { ...(p.week ? { week: p.week } : {}), reportsDir: deps.reportsDir, save_artifacts: p.save_artifacts }, policy, h.now()),
      }),
    },
  };
}
