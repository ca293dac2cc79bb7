/** `job export`: page through jobs_tool.export, verify each page's sha256, write NDJSON + manifest. */
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync, appendFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ExportManifest } from "../jobs/export.js";
import type { ToolCaller } from "./job-client.js";

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

export async function exportToDir(call: ToolCaller, o: { from: string; to: string; out: string; page: number }): Promise<number> {
  const from = new Date(o.from).toISOString();
  const to = new Date(o.to).toISOString();
  const dir = resolve(o.out);
  mkdirSync(dir, { recursive: true });
  const compact = (iso: string) => iso.replace(/\.000Z$/, "Z").replace(/[:.]/g, "");
  const stem = `job-ledger_${compact(from)}_${compact(to)}`;
  const partial = join(dir, `${stem}.ndjson.partial`);
  writeFileSync(partial, "");
  const whole = createHash("sha256");
  let since = from;
  let runs = 0;
  let lines = 0;
  let bytes = 0;
  let pages = 0;
  for (;;) {
    const { ndjson, manifest } = await call<{ ndjson: string; manifest: ExportManifest }>("jobs_tool", "export", { since, until: to, limit: o.page });
    // The page must be exactly what the server hashed, or the file would silently differ.
    if (sha256(ndjson) !== manifest.sha256) throw new Error(`page ${pages + 1} (since ${since}) does not match its sha256; nothing was kept, try again`);
    appendFileSync(partial, ndjson);
    whole.update(ndjson, "utf8");
    pages += 1;
    runs += manifest.runs;
    lines += manifest.lines;
    bytes += manifest.bytes;
    console.error(`export: page ${pages}: ${manifest.runs} runs (${runs} so far, up to ${manifest.truncated ? manifest.next_since : to})`);
    if (!manifest.truncated || !manifest.next_since) break;
    since = manifest.next_since;
  }
  const file = join(dir, `${stem}.ndjson`);
  renameSync(partial, file);
  const manifest = { format: "opsbus.job_ledger.v1", since: from, until: to, file: `${stem}.ndjson`, runs, lines, bytes, sha256: whole.digest("hex"), pages, generated_at: new Date().toISOString() };
  const manifestFile = join(dir, `${stem}.manifest.json`);
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  // sha256sum's own format, so `sha256sum -c` in DIR verifies the file with no opsbus at hand.
  writeFileSync(join(dir, `${stem}.ndjson.sha256`), `${manifest.sha256}  ${stem}.ndjson\n`);
  console.error(`export: ${runs} runs, ${lines} lines, ${bytes} bytes`);
  console.log(`${file}\n${manifestFile}\nsha256 ${manifest.sha256}`);
  return 0;
}
