/** The result table on stdout and the same figures as JSON under bench/results/. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fmt } from "./stats.js";

export interface Figure {
  figure: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number; unit: string };
  /** value / baseline.value, when there is a baseline. */
  ratio?: number;
  /** e.g. `≥ 0.40×`; absent for figures that are baselines or context. */
  target?: string;
  /** null: no target (a baseline or a context figure). */
  pass: boolean | null;
}

export function ratioFigure(f: Omit<Figure, "ratio" | "pass" | "target">, target?: { min?: number; max?: number }): Figure {
  const ratio = f.baseline && f.baseline.value > 0 ? f.value / f.baseline.value : undefined;
  if (!target) return { ...f, ...(ratio !== undefined ? { ratio } : {}), pass: null };
  const r = ratio ?? Number.NaN;
  const pass = (target.min === undefined || r >= target.min) && (target.max === undefined || r <= target.max);
  const text = target.min !== undefined ? `≥ ${target.min.toFixed(2)}×` : `≤ ${target.max!.toFixed(2)}×`;
  return { ...f, ...(ratio !== undefined ? { ratio } : {}), target: text, pass };
}

export function limitFigure(f: Omit<Figure, "pass" | "target">, below: number): Figure {
  return { ...f, target: `< ${below} ${f.unit}`, pass: f.value < below };
}

function cells(f: Figure): string[] {
  return [
    f.figure,
    fmt(f.value, f.unit),
    f.baseline ? `${f.baseline.name} ${fmt(f.baseline.value, f.baseline.unit)}` : "—",
    f.ratio !== undefined ? `${f.ratio.toFixed(2)}×` : "—",
    f.target ?? "—",
    f.pass === null ? "" : f.pass ? "PASS" : "FAIL",
  ];
}

export function renderTable(title: string, figures: Figure[], notes: string[] = []): string {
  const rows = [["figure", "value", "baseline", "ratio", "target", "result"], ...figures.map(cells)];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 1 || c === 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [title, "", line(rows[0]!), rule, ...rows.slice(1).map(line), ...(notes.length ? ["", ...notes.map((n) => `note: ${n}`)] : [])].join("\n");
}

export interface Section {
  title: string;
  figures: Figure[];
  notes: string[];
}

/** Every table printed in this process, in order: `npm run bench` turns them into bench/REPORT.md. */
export const printed: Section[] = [];

/** Prints a bench's table on stdout and keeps it for the report. */
export function printSection(title: string, figures: Figure[], notes: string[] = []): void {
  printed.push({ title, figures, notes });
  console.log(`\n${renderTable(title, figures, notes)}\n`);
}

function mdCells(f: Figure): string {
  return `| ${cells(f).map((c) => c.trim().replace(/\|/g, "\\|")).join(" | ")} |`;
}

/** The sections as one markdown document. */
export function renderReport(sections: Section[], header: string[]): string {
  const out = ["# opsbus benchmark report", "", ...header, ""];
  for (const s of sections) {
    out.push(`## ${s.title}`, "", "| figure | value | baseline | ratio | target | result |", "|---|---:|---|---:|---|---|", ...s.figures.map(mdCells), "");
    if (s.notes.length) out.push(...s.notes.map((n) => `- ${n}`), "");
  }
  return out.join("\n");
}

/** Writes `bench/results/<name>-<timestamp>.json` (git-ignored) and returns its path. */
export function writeResults(benchDir: string, name: string, data: unknown): string {
  const dir = join(benchDir, "results");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = join(dir, `${name}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
