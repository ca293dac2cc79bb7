/**
 * Dependencies in src/ point one way (SPEC §5; the rules are in ./dependency-rules.ts) and form no
 * cycle. A wrong import fails here as `file:line → target` under the rule it breaks.
 *
 * KNOWN_* below are violations still tolerated (none today). They can only shrink: an entry that no longer occurs fails too, so whoever removes the import deletes its entry.
 * Never add one to make this test pass; fix the import (move the rule or the type down instead).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolve } from "node:path";
import { importCycles, importGraph, type ImportEdge } from "./import-graph.js";
import { pairOf, RULES } from "./dependency-rules.js";

// The repository root: the runner's working directory, whether this file runs compiled or not.
const ROOT = resolve(".");

/** Rule name → `from -> to` pairs still allowed. */
const KNOWN: Record<string, string[]> = {};

/** Known cycles by their files (sorted); none left. Same rule as KNOWN: it may only shrink. */
const KNOWN_CYCLES: string[][] = [];

const edges = importGraph(ROOT);
const where = (e: ImportEdge) => `${e.from}:${e.line} → ${e.to}${e.typeOnly ? " (import type)" : ""}`;

test("the graph is read: every src file with a relative import is in it", () => {
  assert.ok(edges.length > 500, `only ${edges.length} imports found under src/`);
  assert.ok(edges.some((e) => e.from === "src/main.ts"), "src/main.ts has no imports?");
});

for (const rule of RULES) {
  test(`rule ${rule.name}`, () => {
    const known = new Set(KNOWN[rule.name] ?? []);
    const broken = edges.filter(rule.breaks);
    const fresh = broken.filter((e) => !known.has(pairOf(e)));
    assert.ok(fresh.length === 0, `${rule.name}: ${rule.why}\n  ${fresh.map(where).join("\n  ")}`);
    const seen = new Set(broken.map(pairOf));
    const gone = [...known].filter((pair) => !seen.has(pair));
    assert.ok(gone.length === 0, `${rule.name}: fixed, delete from KNOWN in test/unit/dependency-direction.test.ts:\n  ${gone.join("\n  ")}`);
  });
}

test("the rules and the cycle finder catch made-up wrong imports", () => {
  const edge = (from: string, to: string): ImportEdge => ({ from, line: 1, to, typeOnly: false });
  const broken = (e: ImportEdge) => RULES.filter((r) => r.breaks(e)).map((r) => r.name);
  assert.equal(broken(edge("src/workers/triage.ts", "src/stores/incidents/postgres-sql.ts")), ["backend-outside-stores"]);
  assert.equal(broken(edge("src/stores/factory.ts", "src/stores/auto.ts")), []);
  assert.equal(broken(edge("src/stores/risk/jsonl.ts", "src/stores/risk/memory.ts")), []);
  assert.equal(broken(edge("src/stores/risk/postgres.ts", "src/stores/risk/jsonl.ts")), ["backend-imports-other-backend"]);
  assert.equal(broken(edge("src/incidents/bridge.ts", "src/workers/triage.ts")), ["domain-reaches-up"]);
  assert.equal(broken(edge("src/risk/score.ts", "src/stores/risk/memory.ts")), ["backend-outside-stores", "domain-imports-stores"]);
  assert.equal(broken(edge("src/util/md.ts", "src/nats/connect.ts")), ["base-imports-outside"]);
  assert.equal(broken(edge("src/subjects/alerts.ts", "src/config/env.ts")), []);
  assert.equal(broken(edge("src/stores/alerts/memory.ts", "src/gateway/index.ts")), ["stores-reach-up"]);
  assert.equal(broken(edge("src/workers/jobs.ts", "src/app/context.ts")), ["app-imported-from-below"]);
  assert.equal(broken(edge("src/observability/monitor/status.ts", "src/app/context.ts")), ["app-imported-from-below"]);
  assert.equal(broken(edge("src/cli/help.ts", "src/app/roles.ts")), []);
  assert.equal(broken(edge("src/main.ts", "src/app/runtime.ts")), []);
  const cycle = importCycles([edge("src/a.ts", "src/b.ts"), edge("src/b.ts", "src/c.ts"), edge("src/c.ts", "src/a.ts"), edge("src/c.ts", "src/d.ts")]);
  assert.equal(cycle, [{ members: ["src/a.ts", "src/b.ts", "src/c.ts"], path: ["src/a.ts", "src/b.ts", "src/c.ts", "src/a.ts"] }]);
});

test("every KNOWN entry names a rule", () => {
  const names = new Set(RULES.map((r) => r.name));
  assert.equal(Object.keys(KNOWN).filter((n) => !names.has(n)), []);
});

test("no import cycles", () => {
  const key = (files: string[]) => files.join(" ");
  const known = new Set(KNOWN_CYCLES.map(key));
  const knownFiles = new Set(KNOWN_CYCLES.flat());
  // A cycle that grew is shown from its new file, so the path runs through the import that closed it.
  const cycles = importCycles(edges, (members) => members.find((f) => !knownFiles.has(f)) ?? members[0]!);
  const fresh = cycles.filter((c) => !known.has(key(c.members)));
  assert.ok(fresh.length === 0, `import cycles:\n  ${fresh.map((c) => `${c.path.join(" → ")}\n    (all files of this cycle: ${c.members.join(", ")})`).join("\n  ")}`);
  const seen = new Set(cycles.map((c) => key(c.members)));
  const gone = KNOWN_CYCLES.filter((files) => !seen.has(key(files)));
  assert.ok(gone.length === 0, `cycles gone (or changed files), update KNOWN_CYCLES:\n  ${gone.map(key).join("\n  ")}`);
});

test.run();
