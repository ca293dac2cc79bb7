/**
 * `npx tsx bench/lib/cpuprofile-top.ts <file.cpuprofile> [n]`: the functions a V8 CPU profile spent
 * the most self time in, and the share of time the process sat idle, so a bench can say where its
 * time went without opening DevTools.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function topSelf(profile: Profile, n = 25): { idlePct: number; totalMs: number; rows: Array<{ pct: number; ms: number; where: string }> } {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") idle += dt;
    const url = f.url.startsWith("file://") ? relative(process.cwd(), new URL(f.url).pathname) : f.url;
    const key = `${f.functionName || "(anonymous)"} ${url}${url ? `:${f.lineNumber + 1}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([where, ms]) => ({ pct: (100 * ms) / total, ms, where }));
  return { idlePct: (100 * idle) / total, totalMs: total, rows };
}

if (process.argv[1]?.endsWith("cpuprofile-top.ts")) {
  const [file, n] = process.argv.slice(2);
  if (!file) throw new Error("usage: cpuprofile-top.ts <file.cpuprofile> [n]");
  const r = topSelf(JSON.parse(readFileSync(file, "utf8")) as Profile, Number(n ?? 25));
  console.log(`${file}: ${(r.totalMs / 1000).toFixed(1)} s profiled, ${r.idlePct.toFixed(1)} % idle`);
  for (const row of r.rows) console.log(`${row.pct.toFixed(1).padStart(5)} %  ${row.ms.toFixed(0).padStart(6)} ms  ${row.where}`);
}
