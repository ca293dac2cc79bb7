/**
 * `npm run bench [-- <name>...]`: runs the named benchmarks (all of them when none is named),
 * each printing its figures as ratios against baselines measured in the same run.
 * Exit code: 0 when every bench produced a result (targets missed included), 1 otherwise.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { printed, renderReport } from "./lib/report.js";

type Bench = { run(): Promise<number> };

/** Benchmarks measure what production runs: the compiled code (dist/), as the Dockerfile does. */
function compile(): void {
  console.error("bench: compiling (tsc) so workers run from dist/ …");
  const r = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("tsc failed; fix the type errors before benchmarking");
}

const BENCHES: Record<string, () => Promise<Bench>> = {
  ingest: () => import("./ingest.js"),
  triage: () => import("./triage.js"),
  governance: () => import("./governance.js"),
  alertmanager: () => import("./alertmanager.js"),
  notify: () => import("./notify.js"),
  console: () => import("./console.js"),
};

const REPORT = join(dirname(fileURLToPath(import.meta.url)), "REPORT.md");

function gitRev(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** bench/REPORT.md: every table of a full run, with the machine it ran on. */
function writeReport(names: string[], startedAt: Date, load: number): void {
  const header = [
    `\`npm run bench\` (${names.join(", ")}), ${startedAt.toISOString()} → ${new Date().toISOString()}, commit ${gitRev()}.`,
    `Machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, load average ${load.toFixed(2)} at start.`,
    "Every ratio divides an opsbus figure by a limit of this machine measured in the same run (the baselines below); RSS is the worker's peak.",
  ];
  writeFileSync(REPORT, `${renderReport(printed, header)}\n`);
  console.error(`bench: report written to ${REPORT}`);
}

async function main(argv: string[]): Promise<number> {
  const names = argv.length ? argv : Object.keys(BENCHES);
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) {
    console.error(`bench: unknown benchmark ${unknown.map((n) => `"${n}"`).join(", ")}; available: ${Object.keys(BENCHES).join(", ")}`);
    return 2;
  }
  compile();
  const startedAt = new Date();
  const load = loadavg()[0]!;
  let code = 0;
  for (const name of names) code = Math.max(code, await (await BENCHES[name]!()).run());
  // Only a run of every bench makes the report; a single bench's figures are in bench/results/.
  if (argv.length === 0) writeReport(names, startedAt, load);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
