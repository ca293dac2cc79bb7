/**
 * `risk_history_tool`: per-service risk scores with their attribution (config/risk_policy.yml,
 * config/risk_attribution.yml), the hourly snapshot into risk history, the daily digest, series
 * and retention cleanup. Writes take `dry_run` (compute and answer, write nothing).
 */
import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import { invalid, notFound } from "../errors.js";
import { currentRisk, riskCleanup, riskDigest, riskSeries, takeSnapshot, type RiskDeps } from "../risk/history.js";
import { action, RetentionDays, type ToolDef } from "./types.js";

export type RiskHistoryToolDeps = RiskDeps;

const READ = "tools.risk.read";
const WRITE = "tools.risk.write";
/** Longest series a call may ask for. */
const MAX_SERIES_DAYS = 365;

const Service = z.string().min(1).max(200).describe("the service (exact name)");
const Env = z.enum(OPS_ENVS);
const EnvFilter = Env.optional().describe("only this environment; default every env");
const DryRun = z.boolean().default(false).describe("compute and answer, write nothing; default false");

export function createRiskHistoryTool(deps: RiskHistoryToolDeps): ToolDef {
  return {
    name: "risk_history_tool",
    description: "Per-service risk scores and bands with each factor's contribution; hourly snapshots, the daily digest, series and cleanup.",
    actions: {
      snapshot: action({
        entitlement: WRITE,
        description: "Computes every service's score now and stores it as this hour's snapshot; a service that already has one this hour keeps it (idempotent).",
        params: z.strictObject({ env: EnvFilter, dry_run: DryRun }),
        handler: (p, h) => takeSnapshot(deps, { ...(p.env ? { env: p.env } : {}), dry_run: p.dry_run }, h.now()),
      }),
      digest: action({
        entitlement: WRITE,
        description: "The daily digest (default today, UTC): scores, bands, 24 h and 7 d deltas, top risers; writes risk/YYYY-MM-DD.{json,md} under the reports dir.",
        params: z.strictObject({
          date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "date must be YYYY-MM-DD").optional().describe("the day, YYYY-MM-DD (UTC); default today"),
          env: EnvFilter,
          dry_run: DryRun,
        }),
        handler: (p, h) => riskDigest(deps, { ...(p.date ? { date: p.date } : {}), ...(p.env ? { env: p.env } : {}), dry_run: p.dry_run }, h.now()),
      }),
      get: action({
        entitlement: READ,
        description: "A service's score now, with the attribution, and its latest stored snapshot.",
        params: z.strictObject({ service: Service, env: EnvFilter }),
        async handler(p, h) {
          const now = h.now();
          const f = { service: p.service, ...(p.env ? { env: p.env } : {}) };
          const [scores, latest] = await Promise.all([currentRisk(deps, now, f), deps.history.latestAt(now.toISOString(), f)]);
          return { service: p.service, computed_at: now.toISOString(), scores, latest_snapshots: latest };
        },
      }),
      series: action({
        entitlement: READ,
        description: "A service's stored snapshots over the last `hours` or `days` (default 24 hours), oldest first.",
        params: z.strictObject({
          service: Service,
          env: EnvFilter,
          hours: z.number().int().min(1).max(MAX_SERIES_DAYS * 24).optional().describe(`look-back in hours (1–${MAX_SERIES_DAYS * 24}); not with days; default 24`),
          days: z.number().int().min(1).max(MAX_SERIES_DAYS).optional().describe(`look-back in days (1–${MAX_SERIES_DAYS}); not with hours`),
        }),
        async handler(p, h) {
          if (p.hours !== undefined && p.days !== undefined) throw invalid("give hours or days, not both");
          const hours = p.hours ?? (p.days !== undefined ? p.days * 24 : 24);
          const series = await riskSeries(deps.history, { service: p.service, ...(p.env ? { env: p.env } : {}), hours }, h.now());
          if (series.count === 0 && !(await deps.history.latestAt(h.now().toISOString(), { service: p.service })).length) {
            throw notFound(`no risk history for service ${p.service}`, { service: p.service });
          }
          return series;
        },
      }),
      cleanup: action({
        entitlement: WRITE,
        description: "Removes snapshots older than retention_days (default from config/risk_policy.yml).",
        params: z.strictObject({
          retention_days: RetentionDays.optional()
            .describe(`remove snapshots older than this many days (1–3650); default ${deps.policy.history.retention_days} (risk_policy.yml)`),
          dry_run: DryRun,
        }),
        handler: (p, h) => riskCleanup(deps.history, { retention_days: p.retention_days ?? deps.policy.history.retention_days, dry_run: p.dry_run }, h.now()),
      }),
    },
  };
}
