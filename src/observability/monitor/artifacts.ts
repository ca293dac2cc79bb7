/**
 * The newest governance artifacts, for monitor status: the daily risk digest
 * (`<reportsDir>/risk/YYYY-MM-DD.json`), the weekly platform digest (`<reportsDir>/platform/YYYY-WW.json`)
 * and the last backlog generation (the newest `backlog.generated` event in the events stream,
 * which records generation wherever it ran, scheduler or agent).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Ctx } from "../../app/context.js";
import { incidentPaths } from "../../incidents/paths.js";
import { platformDigestWeeks } from "../../pressure/digest-files.js";
import { EventEnvelope } from "../../subjects/index.js";

export interface LastArtifacts {
  /** YYYY-MM-DD */
  risk_digest: string | null;
  /** YYYY-Www */
  platform_digest: string | null;
  /** YYYY-MM-DD (UTC) of the last non-dry-run generation. */
  backlog: string | null;
}

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.json$/;

async function newestRiskDigest(reportsDir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(join(reportsDir, "risk"));
  } catch {
    return null;
  }
  return names.flatMap((n) => DAY_FILE.exec(n)?.[1] ?? []).sort().at(-1) ?? null;
}

async function lastBacklogGeneration(ctx: Ctx): Promise<string | null> {
  const subject = ctx.subjects.events.of("backlog.generated");
  const msg = await ctx.jsm.streams.getMessage(ctx.subjects.events.stream, { last_by_subj: subject }).catch(() => null);
  if (!msg) return null;
  const ev = EventEnvelope.safeParse(msg.json());
  return ev.success ? ev.data.ts.slice(0, 10) : null;
}

export async function lastArtifacts(ctx: Ctx): Promise<LastArtifacts> {
  const { reportsDir } = incidentPaths(ctx.env);
  const [risk, weeks, backlog] = await Promise.all([
    newestRiskDigest(reportsDir),
    platformDigestWeeks(reportsDir).catch(() => []),
    lastBacklogGeneration(ctx),
  ]);
  const week = weeks[0];
  return { risk_digest: risk, platform_digest: week ? week.replace("-", "-W") : null, backlog };
}
