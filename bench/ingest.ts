/**
 * `npm run bench -- ingest`: alert ingest throughput and gateway latency, each figure divided by
 * a baseline measured in this same run on the same throwaway nats-server.
 *
 *   1. baselines: raw JetStream windowed async publish, pull consume + ack, Postgres batch upsert, services-API echo
 *   2. end to end with ALERT_BACKEND=postgres (worker in a child process, RSS sampled), then the
 *      same with 1,000 active silences in the KV bucket and once more without (bench/lib/silences.ts)
 *   3. the same three with ALERT_BACKEND=jsonl
 *   4. alert_ingest_tool.list p50/p99 through a gateway child process
 *
 * Exits 0 with a target missed (a measurement is still a measurement), 1 on data loss or a crash.
 * BENCH_INGEST_ALERTS (default 100000, fingerprints = alerts / 10) shrinks a trial run;
 * BENCH_INGEST_SILENCES (default 1000; 0 skips the phases with silences).
 * Diagnostics: BENCH_WORKER_CPU_PROF=<dir> runs the ingest workers with `--cpu-prof` into <dir>;
 * BENCH_WORKER_NODE_FLAGS adds node flags to the ingest workers, space-separated (e.g. `--require <file>`);
 * BENCH_INGEST_TRACE=1 times every ingestBatch call and side-effect publish inside the worker.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWorkload } from "./lib/alerts.js";
import { dropRawStream, rawConsumeRate, rawPublishRate } from "./lib/baselines.js";
import { nodeFlagsFromEnv } from "./lib/child.js";
import { Cleanup } from "./lib/cleanup.js";
import { pgUpsertRate } from "./lib/pg-baseline.js";
import { benchServer } from "./lib/server.js";
import { runIngestE2E, type E2EContext } from "./lib/e2e.js";
import { GATEWAY_AGENT, runGatewayLatency } from "./lib/gateway.js";
import { say } from "./lib/progress.js";
import { buildSilencePlan, compareWithSilences, type SilenceComparison } from "./lib/silences.js";
import { limitFigure, ratioFigure, printSection, writeResults, type Figure } from "./lib/report.js";
import type { TraceSummary } from "./lib/trace-summary.js";
import { DataLossError } from "./lib/verify.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, "..");

/** The targets. */
export const TARGETS = {
  postgresVsPublish: 0.4,
  jsonlVsPublish: 0.5,
  workerRssMb: 300,
  listP99VsEcho: 3,
  /** Issue 14: ingest with 1,000 active silences vs the same phase with none. */
  silencedVsNone: 0.8,
} as const;

const ALERTS = Number(process.env.BENCH_INGEST_ALERTS ?? 100_000);
const SILENCES = Number(process.env.BENCH_INGEST_SILENCES ?? 1_000);
const PLAN = {
  alerts: ALERTS,
  fingerprints: Math.max(1, Math.floor(ALERTS / 10)),
  silences: SILENCES,
  /** Publishes awaiting their PubAck at once. */
  window: 4_000,
  /** The ingest worker's consume() buffer is batch_size × 2 = 1000; the baseline consumer matches it. */
  consumeMaxMessages: 1_000,
  latency: { seed: 200, warmup: 200, count: 2_000 },
} as const;

/** The commit, and whether src/ differed from it: a figure belongs to the code it measured. */
function gitState(): { rev: string; src_uncommitted_changes: boolean } | null {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    return { rev: git("rev-parse", "--short", "HEAD"), src_uncommitted_changes: git("status", "--porcelain", "--", "src").length > 0 };
  } catch {
    return null;
  }
}

/** The silenced phase's figure and note, against the same backend's runs without silences around it. */
function silencedFigure(c: SilenceComparison): Figure {
  const r = c.silenced;
  const label = r.e2e.backend === "postgres" ? "Postgres" : "JSONL";
  return ratioFigure(
    {
      figure: `ingest end to end, ${label}, ${r.silences.toLocaleString("en-US")} silences`, value: r.e2e.per_sec, unit: "alerts/s",
      baseline: { name: `${label} none (mean)`, value: c.none_mean_per_sec, unit: "alerts/s" },
    },
    { min: TARGETS.silencedVsNone },
  );
}

function silencedNote(c: SilenceComparison, noneBefore: { per_sec: number }): string {
  const r = c.silenced;
  const e = r.e2e;
  return (
    `${e.backend} + ${r.silences} silences (written in ${(r.write_ms / 1000).toFixed(2)} s before the worker started): ${(e.elapsed_ms / 1000).toFixed(2)} s total; ` +
    `against ${Math.round(noneBefore.per_sec)} alerts/s without silences before and ${Math.round(c.none_after.per_sec)} after; ` +
    `${r.suppressed.alerts} alerts (${r.suppressed.occurrences} occurrences) stored suppressed, ${r.expected_suppressed} expected; ` +
    `${e.work_messages} work items + ${r.suppressed_events.alerts} suppressed = ${e.fingerprints} new firings ` +
    `(${r.suppressed_events.events} alert.suppressed events); store verified; peak RSS ${e.peak_rss_mb.toFixed(0)} MB`
  );
}

function traceNote(backend: string, t: TraceSummary): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const hist = Object.entries(t.size_histogram).filter(([, n]) => n > 0).map(([k, n]) => `${k}:${n}`).join(" ");
  const sql = t.queries.slice(0, 3).map((q) => `"${q.sql.slice(0, 24)}…" ${(q.ms / q.count).toFixed(1)} ms`).join(", ");
  return (
    `${backend} trace: ${t.batches} batches, mean ${t.mean_batch.toFixed(1)} alerts [${hist}]; of ${s(t.span_ms)}: ` +
    `store ${s(t.store_ms)} (p50 ${t.store_ms_per_batch_p50.toFixed(1)} ms/batch), side-effect publishes ${s(t.side_effects_ms)} ` +
    `(${t.publishes} publishes), between batches ${s(t.between_ms)}; heap peak ${t.heap_peak_mb.toFixed(0)} MB` +
    (sql ? `; per batch: ${sql}` : "") +
    (t.jsonl_compactions.count ? `; ${t.jsonl_compactions.count} compactions, ${s(t.jsonl_compactions.ms)}` : "")
  );
}

export async function run(): Promise<number> {
  const cleanup = new Cleanup();
  const uninstall = cleanup.onSignals();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  const cpuProfDir = process.env.BENCH_WORKER_CPU_PROF;
  const workerNodeFlags = [
    ...(cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${resolve(cpuProfDir)}`] : []),
    ...nodeFlagsFromEnv("BENCH_WORKER_NODE_FLAGS"),
  ];
  const loadBefore = loadavg()[0]!;
  try {
    const { nats, nc, js, jsm } = await benchServer(cleanup);
    say(`bench ingest: nats-server ${nc.info?.version} at ${nats.url}, ${cpus().length} cores, ${PLAN.alerts} alerts over ${PLAN.fingerprints} fingerprints`);

    const workload = buildWorkload(PLAN.alerts, PLAN.fingerprints);
    const publish = await rawPublishRate(js, jsm, workload, PLAN.window);
    const consume = await rawConsumeRate(js, jsm, workload.count, PLAN.consumeMaxMessages);
    await dropRawStream(jsm);
    const upsert = await pgUpsertRate(PLAN.alerts, PLAN.fingerprints);

    const e2eCtx: E2EContext = {
      repoRoot: REPO_ROOT, tmpRoot, natsUrl: nats.url, js, jsm, cleanup, window: PLAN.window,
      trace: process.env.BENCH_INGEST_TRACE === "1",
      ...(workerNodeFlags.length ? { workerNodeFlags } : {}),
    };
    // Each backend's phase with silences runs between two without, so drift between them cancels.
    const silencePlan = PLAN.silences > 0 ? buildSilencePlan(workload, PLAN.silences) : undefined;
    const postgres = await runIngestE2E(e2eCtx, "postgres", workload);
    const postgresSilenced = silencePlan && (await compareWithSilences(e2eCtx, postgres, workload, silencePlan));
    const jsonl = await runIngestE2E(e2eCtx, "jsonl", workload);
    const jsonlSilenced = silencePlan && (await compareWithSilences(e2eCtx, jsonl, workload, silencePlan));
    // Publish again after the end-to-end phases: the targets use the mean, the spread shows drift.
    const publishAfter = await rawPublishRate(js, jsm, workload, PLAN.window);
    await dropRawStream(jsm);
    const publishMean = (publish.per_sec + publishAfter.per_sec) / 2;
    const gateway = await runGatewayLatency({ repoRoot: REPO_ROOT, tmpRoot, natsUrl: nats.url, nc, cleanup }, PLAN.latency);

    const pub = { name: "raw publish", value: publishMean, unit: "msg/s" };
    // A backend's end-to-end rate: the mean of its two runs without silences when the silenced phase ran between them.
    const e2eRate = (first: { per_sec: number }, c: SilenceComparison | undefined) => c?.none_mean_per_sec ?? first.per_sec;
    const postgresRate = e2eRate(postgres, postgresSilenced);
    const jsonlRate = e2eRate(jsonl, jsonlSilenced);
    const figures: Figure[] = [
      ratioFigure({ figure: "raw JetStream async publish (baseline)", value: publishMean, unit: "msg/s" }),
      ratioFigure({ figure: "raw pull consume + ack (baseline)", value: consume.per_sec, unit: "msg/s" }),
      ratioFigure({ figure: "Postgres batch upsert, 500 rows/statement (baseline)", value: upsert.per_sec, unit: "rows/s" }),
      ratioFigure({ figure: "services-API echo p50 (baseline)", value: gateway.echo.p50_ms, unit: "ms" }),
      ratioFigure({ figure: "services-API echo p99 (baseline)", value: gateway.echo.p99_ms, unit: "ms" }),
      ratioFigure({ figure: "ingest end to end, Postgres", value: postgresRate, unit: "alerts/s", baseline: pub }, { min: TARGETS.postgresVsPublish }),
      ratioFigure({ figure: "ingest end to end, JSONL", value: jsonlRate, unit: "alerts/s", baseline: pub }, { min: TARGETS.jsonlVsPublish }),
      ratioFigure({ figure: "  Postgres vs consume + ack", value: postgresRate, unit: "alerts/s", baseline: { name: "consume+ack", value: consume.per_sec, unit: "msg/s" } }),
      ratioFigure({ figure: "  Postgres vs batch upsert", value: postgresRate, unit: "alerts/s", baseline: { name: "upsert", value: upsert.per_sec, unit: "rows/s" } }),
      ratioFigure({ figure: "  JSONL vs consume + ack", value: jsonlRate, unit: "alerts/s", baseline: { name: "consume+ack", value: consume.per_sec, unit: "msg/s" } }),
      ...[postgresSilenced, jsonlSilenced].flatMap((c) => (c ? [silencedFigure(c)] : [])),
      limitFigure({ figure: "peak worker RSS, Postgres", value: postgres.peak_rss_mb, unit: "MB" }, TARGETS.workerRssMb),
      limitFigure({ figure: "peak worker RSS, JSONL", value: jsonl.peak_rss_mb, unit: "MB" }, TARGETS.workerRssMb),
      ratioFigure({ figure: "alert_ingest_tool.list p99", value: gateway.list.p99_ms, unit: "ms", baseline: { name: "echo p99", value: gateway.echo.p99_ms, unit: "ms" } }, { max: TARGETS.listP99VsEcho }),
      ratioFigure({ figure: "alert_ingest_tool.list p50", value: gateway.list.p50_ms, unit: "ms", baseline: { name: "echo p50", value: gateway.echo.p50_ms, unit: "ms" } }),
    ];
    const notes = [
      `raw publish measured before (${Math.round(publish.per_sec)} msg/s) and after (${Math.round(publishAfter.per_sec)} msg/s) the end-to-end phases; ratios use the mean`,
      ...(loadBefore > cpus().length * 0.5 ? [`machine busy at start: load average ${loadBefore.toFixed(2)} on ${cpus().length} cores; expect noisy figures`] : []),
      `${PLAN.alerts} alerts (${workload.meanBytes.toFixed(0)} B mean) over ${PLAN.fingerprints} fingerprints, publish window ${PLAN.window}; ` +
        `end to end = first publish → consumer empty (pending + ack pending = 0), store verified; ` +
        (silencePlan ? "each backend's rate is the mean of its two runs without silences (before and after the silenced one)" : "one run per backend"),
      ...[postgres, jsonl].map(
        (r) =>
          `${r.backend}: ${(r.elapsed_ms / 1000).toFixed(2)} s total, publishing took ${(r.publish_elapsed_ms / 1000).toFixed(2)} s ` +
          `(${Math.round((r.alerts * 1000) / r.publish_elapsed_ms)} msg/s with the worker running), backlog after last PubAck ${(r.tail_ms / 1000).toFixed(2)} s; ` +
          `${r.work_messages} work msgs, ${r.event_messages} events, ${r.redelivered} redelivered; ` +
          `RSS ${r.idle_rss_mb.toFixed(0)} MB idle before the first alert, VmHWM ${r.vm_hwm_mb.toFixed(0)} MB`,
      ),
      `latency: ${PLAN.latency.count} sequential requests to each, alternating echo/list, after ${PLAN.latency.warmup} warm-up; echo and gateway each in a child process; ` +
        `${gateway.seeded} alerts seeded, list returns ${gateway.list_returned}; agent ${GATEWAY_AGENT}`,
      ...(silencePlan
        ? [
            `silences: ${silencePlan.silences.length} active (${silencePlan.mix.equality} equality-only, ${silencePlan.mix.regex} with an instance regex, ` +
              `${silencePlan.mix.negative} with negative matchers, ${silencePlan.mix.matching} that hold back ${silencePlan.expected.size} of ${PLAN.fingerprints} fingerprints); ` +
              `each such phase runs between two of the same backend without them and is read against their mean; only new firings are evaluated (one per fingerprint here)`,
          ]
        : []),
      ...(postgresSilenced ? [silencedNote(postgresSilenced, postgres)] : []),
      ...(jsonlSilenced ? [silencedNote(jsonlSilenced, jsonl)] : []),
      ...[postgres, jsonl].flatMap((r) => (r.trace ? [traceNote(r.backend, r.trace)] : [])),
      ...(gateway.config_note ? [gateway.config_note] : ["config/tool_limits.yml as is: its burst covers every bench call (no throttling)"]),
    ];
    printSection("opsbus bench: ingest", figures, notes);
    const file = writeResults(BENCH_DIR, "ingest", {
      bench: "ingest",
      at: new Date().toISOString(),
      git: gitState(),
      machine: { cpus: cpus().length, node: process.version, nats_server: nc.info?.version ?? null },
      plan: PLAN,
      targets: TARGETS,
      figures,
      notes,
      load_average_at_start: loadBefore,
      raw: {
        publish, publish_after: publishAfter, consume, pg_upsert: upsert, postgres, jsonl, gateway, payload_mean_bytes: workload.meanBytes,
        ...(silencePlan ? { silences: { mix: silencePlan.mix, expected_suppressed: silencePlan.expected.size, postgres: postgresSilenced, jsonl: jsonlSilenced } } : {}),
      },
    });
    say(`results: ${file}`);
    return 0;
  } catch (err) {
    const e = err as Error;
    say(e instanceof DataLossError ? `\nDATA LOSS — no result: ${e.message}` : `\nbench ingest failed: ${e.stack ?? e.message}`);
    return 1;
  } finally {
    uninstall();
    await cleanup.run();
  }
}
