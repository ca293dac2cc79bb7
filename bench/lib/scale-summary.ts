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

/** One line from the newest bench/results/triage-scale-*.json, or how to get one. */
export function latestScaleSummary(benchDir: string): string {
  const dir = join(benchDir, "results");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.startsWith("triage-scale-") && f.endsWith(".json")).sort();
  } catch {
    // no results yet
  }
  const newest = files.at(-1);
  if (!newest) return "no saved result yet (it takes several minutes)";
  try {
    const data = JSON.parse(readFileSync(join(dir, newest), "utf8")) as { at: string; figures: SavedFigure[] };
    const judged = data.figures.filter((f) => f.pass !== null);
    const text = judged.map((f) => `${f.figure} ${f.ratio !== undefined ? `${f.ratio.toFixed(2)}×` : `${f.value.toFixed(0)} ${f.unit}`} ${f.pass ? "PASS" : "FAIL"}`);
    return `last run ${data.at}: ${text.join("; ")} (bench/results/${newest})`;
  } catch {
    return `newest result unreadable: bench/results/${newest}`;
  }
}
