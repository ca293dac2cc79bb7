/**
 * `architecture_pressure_tool` (config/architecture_pressure.yml): the weekly platform digest of
 * per-service architecture pressure, and reads of the digests written (what the backlog uses).
 */
import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import { notFound } from "../errors.js";
import { formatIsoWeek, parseIsoWeek } from "../util/iso-week.js";
import { latestPlatformDigest, platformDigestWeeks, readPlatformDigest } from "../pressure/digest-files.js";
import { platformDigest, type PressureDeps } from "../pressure/digest.js";
import { action, type ToolDef } from "./types.js";

export type ArchitecturePressureToolDeps = PressureDeps;

const READ = "tools.pressure.read";
const WRITE = "tools.pressure.write";
const Week = z.string().regex(/^\d{4}-W?\d{2}$/, "week must be YYYY-WW");
const Env = z.enum(OPS_ENVS);
const NO_DIGEST = "No platform digest found. Run architecture_pressure_tool.digest first.";

export function createArchitecturePressureTool(deps: ArchitecturePressureToolDeps): ToolDef {
  const load = async (week: string | undefined, now: Date) => {
    const d = week ? await readPlatformDigest(deps.reportsDir, formatIsoWeek(parseIsoWeek(week))) : await latestPlatformDigest(deps.reportsDir, now);
    if (!d) throw notFound(week ? `no platform digest for week ${week}` : NO_DIGEST, week ? { week } : undefined);
    return d;
  };
  return {
    name: "architecture_pressure_tool",
    description: "Weekly per-service architecture pressure (incidents, recurrence, risk trend, overdue follow-ups) with band and requires_arch_review.",
    actions: {
      digest: action({
        entitlement: WRITE,
        description: "Scores every service over the window before the week's end (default: the last complete ISO week) and writes platform/YYYY-WW.{json,md} under the reports dir.",
        params: z.strictObject({
          week: Week.optional().describe("ISO week as YYYY-WW or YYYY-Www; default the last complete week"),
          env: Env.optional().describe("only services in this environment; default every env"),
          dry_run: z.boolean().default(false).describe("compute and answer, write no digest files; default false"),
        }),
        handler: (p, h) => platformDigest(deps, { ...(p.week ? { week: p.week } : {}), ...(p.env ? { env: p.env } : {}), dry_run: p.dry_run }, h.now()),
      }),
      list: action({
        entitlement: READ,
        description: "The services of the latest digest (or of `week`), highest pressure first; `requires_arch_review` filters.",
        params: z.strictObject({
          week: Week.optional().describe("the digest of this ISO week (YYYY-WW); default the latest written"),
          requires_arch_review: z.boolean().optional().describe("only services that do (true) or do not (false) require an architecture review; default all"),
          limit: z.number().int().min(1).max(1000).default(100).describe("most services answered (1–1000); default 100"),
        }),
        async handler(p, h) {
          const d = await load(p.week, h.now());
          const services = d.services.filter((s) => p.requires_arch_review === undefined || s.requires_arch_review === p.requires_arch_review);
          return { week: d.week, generated_at: d.generated_at, totals: d.totals, count: services.length, services: services.slice(0, p.limit), weeks: await platformDigestWeeks(deps.reportsDir) };
        },
      }),
      get: action({
        entitlement: READ,
        description: "One service's pressure in the latest digest (or of `week`).",
        params: z.strictObject({
          service: z.string().min(1).max(200).describe("the service (exact name)"),
          env: Env.optional().describe("only its entry for this environment; default every env"),
          week: Week.optional().describe("the digest of this ISO week (YYYY-WW); default the latest written"),
        }),
        async handler(p, h) {
          const d = await load(p.week, h.now());
          const found = d.services.filter((s) => s.service === p.service && (!p.env || s.env === p.env));
          if (found.length === 0) throw notFound(`service ${p.service} is not in the platform digest of ${d.week}`, { service: p.service, week: d.week });
          return { week: d.week, generated_at: d.generated_at, services: found };
        },
      }),
    },
  };
}
