/**
 * The part of the weekly platform digest (`<reportsDir>/platform/YYYY-WW.json`, written by
 * architecture_pressure_tool.digest) that backlog generation reads. Unknown fields are allowed;
 * only these are checked. A factor may be a number or an object carrying `points` (or `value`,
 * `score`, `count`): backlog categories compare that number against their `min`. This matches
 * src/pressure/digest-files.ts (`opsbus.platform_digest/1`), whose factors are `{ points, value, max, detail }`.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { invalid, notFound } from "../errors.js";
import { formatIsoWeek, isoWeekOf } from "../util/iso-week.js";

export const NO_DIGEST_MESSAGE = "No platform digest found. Run architecture_pressure_tool.digest first.";
const WEEK_FILE = /^(\d{4})-W?(\d{2})\.json$/;

const FactorValue = z.union([
  z.number(),
  z.looseObject({ points: z.number().nullish(), value: z.number().nullish(), score: z.number().nullish(), count: z.number().nullish() })
    .transform((o) => o.points ?? o.value ?? o.score ?? o.count ?? 0),
]);

export const DigestService = z.looseObject({
  service: z.string().min(1),
  env: z.string().nullish(),
  score: z.number().default(0),
  band: z.string().default("low"),
  requires_arch_review: z.boolean().default(false),
  /** Factor name → value, e.g. `{ incidents: 30, recurrence: 12, risk_trend: 0, followups_overdue: 5 }`. */
  factors: z.record(z.string(), FactorValue).default({}),
});
export type DigestService = z.infer<typeof DigestService>;

export const PlatformDigest = z.looseObject({
  /** `YYYY-WW`; defaults to the file's name. */
  week: z.string().regex(/^\d{4}-W?\d{2}$/).optional(),
  /** The env of services that name none (null: the digest covers every env). */
  env: z.string().nullish(),
  generated_at: z.string().optional(),
  services: z.array(DigestService),
});
export type PlatformDigest = z.infer<typeof PlatformDigest> & { week: string; file: string };

/** Reads `<reportsDir>/platform/<week>.json`, or the newest week not after `now`'s; not_found with the runbook's message when there is none. */
export async function readPlatformDigest(reportsDir: string, opts: { week?: string; now?: Date } = {}): Promise<PlatformDigest> {
  const dir = join(reportsDir, "platform");
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const current = opts.now ? formatIsoWeek(isoWeekOf(opts.now)) : undefined;
  const weeks = names.flatMap((n) => {
    const m = WEEK_FILE.exec(n);
    return m ? [{ week: `${m[1]}-${m[2]}`, name: n }] : [];
  });
  const wanted = opts.week?.replace("-W", "-");
  const pick = weeks
    .filter((w) => (wanted ? w.week === wanted : current === undefined || w.week <= current))
    .sort((a, b) => (a.week < b.week ? 1 : a.week > b.week ? -1 : 0))[0];
  if (!pick) {
    throw notFound(wanted ? `No platform digest found for ${wanted}. Run architecture_pressure_tool.digest first.` : NO_DIGEST_MESSAGE, { dir, ...(wanted ? { week: wanted } : {}) });
  }
  const file = join(dir, pick.name);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw invalid(`platform digest ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = PlatformDigest.safeParse(raw);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw invalid(`platform digest ${file} does not have the expected shape: ${reasons.join("; ")}`, { file, reasons });
  }
  return { ...parsed.data, week: (parsed.data.week ?? pick.week).replace("-W", "-"), file };
}
