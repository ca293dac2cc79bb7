/**
 * Ledger export: NDJSON of the runs created in a time window (each run's header line, then its
 * transition lines, oldest run first), with a manifest carrying the sha256 of exactly those bytes.
 * `verifyExport` recomputes it; `parseExport` turns the lines back into ledger rows for import.
 */
import { createHash } from "node:crypto";
import { invalid } from "../errors.js";
import { rowsOfRun } from "./ledger-rules.js";
import type { JobLedgerStore, JobRow, JobRun } from "./ledger-store.js";

export const EXPORT_BOUNDS = { maxRuns: 10_000, defaultRuns: 1_000 } as const;

export interface ExportManifest {
  format: "opsbus.job_ledger.v1";
  since: string;
  until: string;
  runs: number;
  lines: number;
  bytes: number;
  sha256: string;
  generated_at: string;
  /** True when the window held more runs than `limit`: export again from `next_since`. */
  truncated: boolean;
  next_since?: string;
}

export const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

export async function exportLedger(store: JobLedgerStore, w: { since: string; until: string; limit?: number }, now: Date): Promise<{ ndjson: string; manifest: ExportManifest }> {
  if (Date.parse(w.since) >= Date.parse(w.until)) throw invalid(`export window is empty: since ${w.since} is not before until ${w.until}`);
  const limit = Math.min(w.limit ?? EXPORT_BOUNDS.defaultRuns, EXPORT_BOUNDS.maxRuns);
  const { kept, next_since } = await page(store, w.since, w.until, limit);
  const lines = kept.flatMap(rowsOfRun).map((row) => JSON.stringify(row));
  const ndjson = lines.map((l) => `${l}\n`).join("");
  return {
    ndjson,
    manifest: {
      format: "opsbus.job_ledger.v1", since: w.since, until: w.until, runs: kept.length, lines: lines.length,
      bytes: Buffer.byteLength(ndjson, "utf8"), sha256: sha256(ndjson), generated_at: now.toISOString(),
      truncated: next_since !== undefined,
      ...(next_since !== undefined ? { next_since } : {}),
    },
  };
}

/**
 * One page of runs, never ending inside one instant: the next page starts at `next_since`
 * (inclusive), so runs sharing the boundary's created_at would come again, and a page of them
 * would never move on. Such runs stay for the next page; when the whole page is one instant, the
 * page is that instant's runs (up to maxRuns) and the next starts 1 ms later.
 */
async function page(store: JobLedgerStore, since: string, until: string, limit: number): Promise<{ kept: JobRun[]; next_since?: string }> {
  const runs = await store.list({ since, until, order: "asc", limit: limit + 1 });
  if (runs.length <= limit) return { kept: runs };
  const boundary = Date.parse(runs[limit]!.created_at);
  const before = runs.slice(0, limit).filter((r) => Date.parse(r.created_at) < boundary);
  if (before.length > 0) return { kept: before, next_since: runs[limit]!.created_at };
  const after = Math.min(boundary + 1, Date.parse(until));
  const kept = await store.list({ since: runs[0]!.created_at, until: new Date(after).toISOString(), order: "asc", limit: EXPORT_BOUNDS.maxRuns });
  return after < Date.parse(until) ? { kept, next_since: new Date(after).toISOString() } : { kept };
}

/** True when the NDJSON is exactly what the manifest describes. */
export function verifyExport(ndjson: string, manifest: Pick<ExportManifest, "sha256" | "bytes" | "lines">): boolean {
  const lines = ndjson.split("\n").filter((l) => l.length > 0).length;
  return sha256(ndjson) === manifest.sha256 && Buffer.byteLength(ndjson, "utf8") === manifest.bytes && lines === manifest.lines;
}

export function parseExport(ndjson: string): JobRow[] {
  return ndjson
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l, i) => {
      const row = JSON.parse(l) as JobRow;
      if (row?.kind !== "run" && row?.kind !== "transition") throw invalid(`line ${i + 1} is not a ledger row`);
      return row;
    });
}
