/**
 * `npm run bench -- governance`: the governance jobs over a seeded incident history on Postgres —
 * risk snapshot, architecture pressure digest, weekly backlog generation — at 10,000 and 100,000
 * incidents, each run through its tool action as the scheduler runs it. Prints each time and the
 * 100k/10k ratio (target ≤ 12: near-linear) and the 100k pressure digest against 10 s.
 *
 * BENCH_GOVERNANCE_SIZES (default `10000,100000`) sets the two sizes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { loadEnv, STORE_ENV_PREFIX } from "../src/config/env.js";
import { createLogger } from "../src/log.js";
import { buildContext } from "../src/app/runtime.js";
import type { IncidentRow } from "../src/incidents/store.js";
import { buildToolRegistry } from "../src/app/tools.js";
import type { ToolHelpers } from "../src/tools/types.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { Cleanup } from "./lib/cleanup.js";
import { say } from "./lib/progress.js";
import { limitFigure, ratioFigure, printSection, writeResults, type Figure } from "./lib/report.js";
import { benchServer } from "./lib/server.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const TARGETS = { maxRatio: 12, pressure100kSeconds: 10 } as const;
const [SMALL, LARGE] = (process.env.BENCH_GOVERNANCE_SIZES ?? "10000,100000").split(",").map(Number) as [number, number];
const SERVICES = 200;
const KINDS = ["latency", "error_rate", "slo_breach", "resource", "crash"] as const;
const SEVERITIES = ["P0", "P1", "P2", "P3"] as const;
const DAY = 86_400_000;

/** `n` incidents over the last 28 days: 200 services, mostly closed, some with a follow-up. */
function seedRows(n: number, now: Date): IncidentRow[] {
  const rows: IncidentRow[] = [];
  for (let i = 0; i < n; i++) {
    // Spread evenly over the 28 days, services interleaved, so every week and service has its share.
    const started = new Date(now.getTime() - 60_000 - Math.floor((i * 28 * DAY) / n));
    const id = `inc_${started.toISOString().slice(0, 10).replaceAll("-", "")}_${started.toISOString().slice(11, 16).replace(":", "")}_${i.toString(16).padStart(6, "0")}`;
    const service = `svc-${i % SERVICES}`;
    const kind = KINDS[i % KINDS.length]!;
    const open = i % 10 === 0;
    const at = started.toISOString();
    rows.push({
      kind: "incident",
      data: {
        id, service, env: "prod", severity: SEVERITIES[i % 4]!, title: `${kind} on ${service}`,
        status: open ? "open" : "closed", signature: `sig-${service}-${kind}`, started_at: at, created_at: at, updated_at: at,
        ...(open ? {} : { closed_at: new Date(started.getTime() + 45 * 60_000).toISOString(), resolution: "fixed" }),
        created_by: "bench", alert_count: 1 + (i % 5), last_alert_at: at, reopened_count: 0, labels: { kind },
      },
    });
    if (i % 20 === 0) {
      rows.push({
        kind: "event",
        data: {
          id: `evt_fu_${i}`, incident_id: id, ts: at, type: "followup", message: "follow-up", author: "bench",
          meta: { followup_id: `fu_${i}`, title: "harden it", owner: "oncall", due_date: new Date(started.getTime() + 3 * DAY).toISOString().slice(0, 10), status: "open" },
        },
      });
    }
  }
  return rows;
}

interface Timings { snapshot: number; pressure: number; backlog: number; seed: number; what: string }

async function measure(n: number, natsUrl: string): Promise<Timings> {
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-bench-gov-"));
  const backends = Object.fromEntries(Object.values(STORE_ENV_PREFIX).map((p) => [`${p}_BACKEND`, "postgres"]));
  const env = loadEnv({ NATS_URL: natsUrl, DATA_DIR: dataDir, DATABASE_URL: db.url, OPSBUS_START_NATS: "0", ...backends });
  const ctx = await buildContext({ env, logger: createLogger({ level: "warn" }) });
  try {
    const now = ctx.now();
    const t0 = performance.now();
    const rows = seedRows(n, now);
    for (let i = 0; i < rows.length; i += 5_000) await ctx.stores.incidents.importRows(rows.slice(i, i + 5_000));
    const seed = (performance.now() - t0) / 1000;
    const registry = buildToolRegistry(ctx, { logger: ctx.logger });
    const helpers: ToolHelpers = {
      caller: { agent_id: "scheduler", role: "svc_scheduler", entitlements: new Set(), authenticated: true, channel: "bench" },
      logger: ctx.logger,
      signal: new AbortController().signal,
      now: ctx.now,
    };
    const out: Record<string, unknown> = {};
    const timed = async (tool: string, action: string, params: Record<string, unknown>): Promise<number> => {
      const def = registry.get(tool)!.actions[action]!;
      const start = performance.now();
      out[tool] = await def.handler(def.params.parse(params), helpers);
      return (performance.now() - start) / 1000;
    };
    const snapshot = await timed("risk_history_tool", "snapshot", {});
    const pressure = await timed("architecture_pressure_tool", "digest", {});
    const backlog = await timed("backlog_tool", "auto_generate_weekly", {});
    // What the jobs produced, so a fast run that saw nothing cannot pass unnoticed.
    const count = (v: unknown, key: string) => (Array.isArray((v as Record<string, unknown>)?.[key]) ? ((v as Record<string, unknown[]>)[key]!).length : "?");
    const what = `${count(out.risk_history_tool, "snapshots")} risk snapshots, ${count(out.architecture_pressure_tool, "services")} services in the pressure digest, ${count(out.backlog_tool, "items")} backlog items`;
    say(`bench governance: ${n} incidents: seed ${seed.toFixed(1)} s, snapshot ${snapshot.toFixed(2)} s, pressure ${pressure.toFixed(2)} s, backlog ${backlog.toFixed(2)} s`);
    return { seed, snapshot, pressure, backlog, what };
  } finally {
    await ctx.close();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<number> {
  const cleanup = new Cleanup();
  const uninstall = cleanup.onSignals();
  const loadBefore = loadavg()[0]!;
  try {
    const { nats } = await benchServer(cleanup);
    say(`bench governance: ${cpus().length} cores, ${SMALL} and ${LARGE} seeded incidents over ${SERVICES} services`);
    const small = await measure(SMALL, nats.url);
    const large = await measure(LARGE, nats.url);
    const scale = `${LARGE / 1000}k/${SMALL / 1000}k`;
    const figures: Figure[] = [];
    for (const [key, name] of [["snapshot", "risk snapshot"], ["pressure", "pressure digest"], ["backlog", "backlog generation"]] as const) {
      figures.push(ratioFigure({ figure: `${name}, ${SMALL / 1000}k incidents`, value: small[key], unit: "s" }));
      figures.push(
        ratioFigure(
          { figure: `${name}, ${LARGE / 1000}k incidents (${scale})`, value: large[key], unit: "s", baseline: { name: `${SMALL / 1000}k`, value: small[key], unit: "s" } },
          { max: TARGETS.maxRatio },
        ),
      );
    }
    figures.push(limitFigure({ figure: `pressure digest, ${LARGE / 1000}k incidents`, value: large.pressure, unit: "s" }, TARGETS.pressure100kSeconds));
    const notes = [
      `seeding (not measured): ${small.seed.toFixed(1)} s and ${large.seed.toFixed(1)} s`,
      `${SMALL / 1000}k: ${small.what}; ${LARGE / 1000}k: ${large.what}`,
      `each figure is one tool action run as the scheduler runs it, on Postgres stores, ${cpus().length} cores, load average ${loadBefore.toFixed(2)} at start`,
    ];
    printSection("governance jobs over a seeded incident history (Postgres)", figures, notes);
    console.log(`\nresults: ${writeResults(BENCH_DIR, "governance", { small, large, figures })}`);
    return 0;
  } finally {
    await cleanup.run();
    uninstall();
  }
}
