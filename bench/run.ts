/**
 * `npm run bench [-- <name>...]`: runs the named benchmarks (all of them when none is named),
 * each printing its figures as ratios against baselines measured in the same run.
 * Exit code: 0 when every bench produced a result (targets missed included), 1 otherwise.
 */
import { spawnSync } from "node:child_process";

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
};

async function main(argv: string[]): Promise<number> {
  const names = argv.length ? argv : Object.keys(BENCHES);
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) {
    console.error(`bench: unknown benchmark ${unknown.map((n) => `"${n}"`).join(", ")}; available: ${Object.keys(BENCHES).join(", ")}`);
    return 2;
  }
  compile();
  let code = 0;
  for (const name of names) code = Math.max(code, await (await BENCHES[name]!()).run());
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
