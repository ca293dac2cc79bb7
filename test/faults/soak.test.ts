/**
 * Soak: gateway, ingest, scheduler and job runner in this process on Postgres stores, under steady mixed load from another
 * process (alerts, claims + acks, tool reads) with the scheduler firing real governance jobs.
 * RSS and event-loop delay are sampled each second. After warm-up RSS must show no upward trend
 * and the event loop's p99 delay must stay under 50 ms.
 *
 * SOAK_SECONDS (default 600 under FAULT_SCALE=full, else 30) sets the length; the figures are printed.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { loadEnv } from "../../src/config/env.js";
import { createLogger } from "../../src/log.js";
import { run } from "../../src/main.js";
import { writeTaskRegistry } from "../harness/jobs.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { reapAtExit } from "../harness/reaper.js";

const FULL = process.env.FAULT_SCALE === "full";
const SECONDS = Number(process.env.SOAK_SECONDS ?? (FULL ? 600 : 30));
const WARMUP_FRACTION = 0.2;
const ALERTS_PER_SEC = 100;
/** RSS may drift by at most this much per minute after warm-up (a leak of a few KB per alert would show as MBs). */
const MAX_RSS_SLOPE_MB_PER_MIN = 1;
const MAX_LOOP_P99_MS = 50;
/**
 * A trend needs a long steady phase: over a minute or two, heap growth toward its working size
 * and GC timing dominate the slope. Shorter runs (CI) print the slope without judging it.
 */
const MIN_STEADY_SECONDS_FOR_TREND = 300;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Governance jobs every few seconds instead of hourly/daily, so a soak sees many runs. */
const TASKS = writeTaskRegistry({
  tasks: [
    { id: "soak_risk_snapshot", cron: "*/10 * * * * *", tool: "risk_history_tool", action: "snapshot", inputs: { env: "prod" }, catchup_window_minutes: 0 },
    { id: "soak_pressure_digest", cron: "5/20 * * * * *", tool: "architecture_pressure_tool", action: "digest", inputs: {}, catchup_window_minutes: 0 },
    { id: "soak_incident_digest", cron: "15/30 * * * * *", tool: "incident_intelligence_tool", action: "weekly_digest", inputs: {}, catchup_window_minutes: 0 },
  ],
});

test(`soak: ${SECONDS} s of mixed load — RSS flat after warm-up, event-loop p99 < ${MAX_LOOP_P99_MS} ms`, async () => {
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-soak-"));
  const backends = { ALERT_BACKEND: "postgres", AUDIT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", RISK_BACKEND: "postgres", JOB_BACKEND: "postgres", BACKLOG_BACKEND: "postgres" };
  const env = loadEnv({ NATS_URL: nats.url, DATABASE_URL: db.url, DATA_DIR: dataDir, CONFIG_DIR: "config", TASK_REGISTRY: TASKS, LOG_LEVEL: "warn", OPSBUS_START_NATS: "0", ...backends });
  // No triage worker: it would take every work item before the load's claimers see one.
  const running = await run(["gateway", "alerts-in", "scheduler", "jobs"], { env, logger: createLogger({ level: "warn" }) });
  const load = spawn(process.execPath, ["--import", "tsx", "test/faults/soak-load.ts", nats.url, String(ALERTS_PER_SEC)], { stdio: ["ignore", "pipe", "inherit"] });
  reapAtExit(load);
  let loadOut = "";
  load.stdout!.on("data", (d: Buffer) => (loadOut += d.toString()));

  const loop = monitorEventLoopDelay({ resolution: 10 });
  // The asserted figure: one histogram over the whole steady phase.
  const steadyLoop = monitorEventLoopDelay({ resolution: 10 });
  const samples: Array<{ t: number; rssMb: number; p99Ms: number }> = [];
  try {
    const started = Date.now();
    for (let s = 1; s <= SECONDS; s++) {
      // Each second gets its own histogram, so a stall shows in the second it happened.
      loop.reset();
      loop.enable();
      if (s === Math.floor(SECONDS * WARMUP_FRACTION) + 1) steadyLoop.enable();
      await delay(Math.max(0, started + s * 1000 - Date.now()));
      loop.disable();
      samples.push({ t: s, rssMb: process.memoryUsage().rss / 2 ** 20, p99Ms: loop.percentile(99) / 1e6 });
      if (s % 60 === 0) console.error(`soak: ${s}/${SECONDS} s, RSS ${samples.at(-1)!.rssMb.toFixed(0)} MB`);
    }
  } finally {
    steadyLoop.disable();
    load.kill("SIGTERM");
    await once(load, "exit");
  }
  const counts = JSON.parse(loadOut.trim().split("\n").at(-1) ?? "{}") as Record<string, number>;

  try {
    const steady = samples.slice(Math.floor(samples.length * WARMUP_FRACTION));
    const rssSlope = slope(steady.map((x) => x.t / 60), steady.map((x) => x.rssMb));
    const worstSecond = Math.max(...steady.map((x) => x.p99Ms));
    const loopP99 = steadyLoop.percentile(99) / 1e6;
    const runs = await running.ctx.stores.jobs.list({ status: ["succeeded"], limit: 1000 });
    const dash = await running.ctx.stores.alerts.dashboard(60, new Date());
    const stored = Object.values(dash.counts_by_status).reduce((a, b) => a + b, 0);
    console.log(
      `soak figures: ${SECONDS} s; RSS ${steady[0]!.rssMb.toFixed(0)} → ${steady.at(-1)!.rssMb.toFixed(0)} MB after warm-up, slope ${rssSlope.toFixed(2)} MB/min; ` +
        `event-loop delay p99 ${loopP99.toFixed(1)} ms, max ${(steadyLoop.max / 1e6).toFixed(1)} ms, worst second's p99 ${worstSecond.toFixed(1)} ms; ` +
        `load ${JSON.stringify(counts)}; ${stored} alerts stored; ${runs.length} job runs succeeded`,
    );
    // The load really ran: alerts went in, claims were served, jobs ran.
    assert.ok((counts.published ?? 0) >= ALERTS_PER_SEC * SECONDS * 0.8, `published ${counts.published}`);
    assert.is(counts.publish_errors, 0);
    assert.is(counts.tool_errors, 0, "every tool call answered ok");
    assert.ok((counts.reads ?? 0) >= SECONDS * 0.8 * 4, `reads ${counts.reads}`);
    assert.ok(runs.length >= Math.floor(SECONDS / 10), `${runs.length} scheduled runs succeeded`);
    assert.is(stored, 400 + counts.new_fingerprints!, "the load's 400 repeating fingerprints and each new one: one alert each");
    assert.ok((counts.acked ?? 0) >= counts.new_fingerprints! * 0.8, `claimed and acked ${counts.acked} of ${counts.new_fingerprints} new alerts`);
    if (steady.length >= MIN_STEADY_SECONDS_FOR_TREND) {
      assert.ok(rssSlope < MAX_RSS_SLOPE_MB_PER_MIN, `RSS grows ${rssSlope.toFixed(2)} MB/min after warm-up`);
    } else {
      console.log(`soak: ${steady.length} s of steady phase is too short to judge an RSS trend (needs ${MIN_STEADY_SECONDS_FOR_TREND} s; FAULT_SCALE=full runs 600 s)`);
    }
    assert.ok(loopP99 < MAX_LOOP_P99_MS, `event-loop p99 ${loopP99.toFixed(1)} ms`);
  } finally {
    await running.stop();
    await db.drop();
    await nats.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
