/** The default triage bench's pointer to the scale bench: its command and the newest saved result. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const SCALE_COMMAND = "BENCH_TRIAGE_SCALE=200k npm run bench -- triage";

interface SavedFigure {
  figure: string;
  value: number;
  unit: string;
  ratio?: number;
  pass: boolean | null;
}

/** The newest saved figures of each backend (runs may cover one backend each), or how to get them. */
export function latestScaleSummary(benchDir: string): string {
  const dir = join(benchDir, "results");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.startsWith("triage-scale-") && f.endsWith(".json")).sort().reverse();
  } catch {
    // no results yet
  }
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const file of files) {
    let data: { at: string; figures: SavedFigure[] };
    try {
      data = JSON.parse(readFileSync(join(dir, file), "utf8")) as typeof data;
    } catch {
      continue;
    }
    const backends = new Set(data.figures.map((f) => f.figure.split(":")[0]!));
    for (const backend of backends) {
      if (seen.has(backend)) continue;
      seen.add(backend);
      const judged = data.figures.filter((f) => f.pass !== null && f.figure.startsWith(`${backend}:`));
      const text = judged.map((f) => `${f.figure} ${f.ratio !== undefined ? `${f.ratio.toFixed(2)}×` : `${f.value.toFixed(0)} ${f.unit}`} ${f.pass ? "PASS" : "FAIL"}`);
      parts.push(`${text.join("; ")} (${data.at}, bench/results/${file})`);
    }
  }
  return parts.length ? `last runs: ${parts.join(" | ")}` : "no saved result yet (it takes several minutes)";
}
