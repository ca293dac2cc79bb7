/**
 * The newest governance artifacts, for monitor status: the daily risk digest
 * (`<reportsDir>/risk/YYYY-MM-DD.json`), the weekly platform digest (`<reportsDir>/platform/YYYY-WW.json`)
 * and the last backlog generation (the newest `backlog.generated` event in the events stream,
 * which records generation wherever it ran, scheduler or agent).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { JetStreamManager } from "@nats-io/jetstream";
import { platformDigestWeeks } from "../../pressure/digest-files.js";
import { EventEnvelope, type Subjects } from "../../subjects/index.js";

/** Where the newest artifacts are found: the reports directory and the events stream. */
export interface ArtifactSources {
  jsm: JetStreamManager;
  subjects: Subjects;
  reportsDir: string;
}

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

async function lastBacklogGeneration(ctx: ArtifactSources): Promise<string | null> {
  const subject = ctx.subjects.events.of("backlog.generated");
  const msg = await ctx.jsm.streams.getMessage(ctx.subjects.events.stream, { last_by_subj: subject }).catch(() => null);
  if (!msg) return null;
  const ev = EventEnvelope.safeParse(msg.json());
  return ev.success ? ev.data.ts.slice(0, 10) : null;
}

export async function lastArtifacts(ctx: ArtifactSources): Promise<LastArtifacts> {
  const { reportsDir } = ctx;
  const [risk, weeks, backlog] = await Promise.all([
    newestRiskDigest(reportsDir),
    platformDigestWeeks(reportsDir).catch(() => []),
    lastBacklogGeneration(ctx),
  ]);
  const week = weeks[0];
  return { risk_digest: risk, platform_digest: week ? week.replace("-", "-W") : null, backlog };
}
