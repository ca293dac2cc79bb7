/**
 * `npm run bench -- notify`: how long an incident moment takes to reach a webhook receiver, opsbus
 * against Prometheus Alertmanager 0.25 in the same run, both posting to the same kind of loopback
 * receiver (a Node HTTP server in this process that records when each request arrived).
 *
 *   opsbus: a gateway and a notifier process (from dist/, incidents on Postgres, sent-log in KV).
 *     BENCH_NOTIFY_MOMENTS moments (default 10,000) at BENCH_NOTIFY_RATE per second (default 100,
 *     open loop): half as many incidents, each opened (`oncall_tool.incident_create`) and closed
 *     (`incident_close`) once its `opened` arrived, for one webhook receiver (group_wait 0s).
 *     Latency: the incident event's time (stamped by the gateway when it publishes the event,
 *     right after the store commit; the webhook body carries it as incident.moment_at) → the
 *     receiver got the request. Also shown: from the tool call's send (the gateway's work too).
 *   Alertmanager: the same number of distinct alerts, one per POST /api/v2/alerts at the same rate,
 *     one alert per group (group_by: [alertname]), group_wait 0s, group_interval 1s, webhook
 *     receiver. Latency: the POST was sent → the receiver got the notification.
 *
 * Both get 200 unmeasured warm-up moments first; the opsbus latency is also split into stages
 * from the event stream's and the sent-log's timestamps (bench/lib/notify-stages.ts).
 * BENCH_NOTIFY_ALERTMANAGER=0 measures opsbus alone; BENCH_NOTIFY_DUMP=<file> writes each measured
 * notification's stages (one JSON line each); BENCH_NOTIFY_CPU_PROF=<dir> profiles its two
 * processes (`npx tsx bench/lib/cpuprofile-top.ts <file>`). RSS: the opsbus notifier's peak, Alertmanager's.
 * Without the package, opsbus alone is measured and Alertmanager's rows say so.
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Svcm } from "@nats-io/services";
import { naming, SERVICE_NAME, subjects, type ToolReply } from "../src/subjects/index.js";
import { configDirWith } from "../test/harness/config.js";
import { notifyStallReport } from "../test/harness/notify-stall.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { startHttpReceiver, type HttpReceiver, type RecordedRequest } from "../test/harness/receivers.js";
import { waitFor } from "../test/harness/wait.js";
import { alertmanagerBinary } from "./lib/alertmanager.js";
import { startWebhookAlertmanager } from "./lib/am-webhook.js";
import { crashGuard, spawnNode, type NodeChild } from "./lib/child.js";
import { Cleanup } from "./lib/cleanup.js";
import { notifyStages } from "./lib/notify-stages.js";
import { paced, type PacedResult } from "./lib/paced.js";
import { say } from "./lib/progress.js";
import { printSection, ratioFigure, writeResults, type Figure } from "./lib/report.js";
import { benchServer } from "./lib/server.js";
import { summarize, type LatencySummary } from "./lib/stats.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, "..");
const S = subjects(naming());
const MOMENTS = Number(process.env.BENCH_NOTIFY_MOMENTS ?? 10_000);
const RATE = Number(process.env.BENCH_NOTIFY_RATE ?? 100);
const WARMUP = 200;
/** After the last moment is started, how long the receiver may take to get the rest. */
const SETTLE_MS = 180_000;
/** BENCH_NOTIFY_CPU_PROF=<dir>: the gateway and the notifier write CPU profiles there (on their SIGTERM exit). */
const CPU_PROF_DIR = process.env.BENCH_NOTIFY_CPU_PROF;
const PLAN = { moments: MOMENTS, rate_per_s: RATE, warmup: WARMUP } as const;
/** BENCH_NOTIFY_DUMP=<file>: one JSON line per measured notification with its stages (when, and where the time went). */
const DUMP_FILE = process.env.BENCH_NOTIFY_DUMP;

interface Side {
  /** From the moment's own time (opsbus: incident.created event; Alertmanager: the POST). */
  latency: LatencySummary;
  /** opsbus only: from the tool call's send. */
  fromRequest?: LatencySummary;
  rssMb: number;
  /** opsbus only: where the time went, from the sent-log's timestamps (p50 / p99 ms per stage). */
  stages?: Record<string, LatencySummary>;
  load: PacedResult;
  requests: number;
  distinct: number;
}

/** The first request per id (a duplicate would be a second one). */
function firstById(reqs: readonly RecordedRequest[], idOf: (r: RecordedRequest) => string | undefined): Map<string, RecordedRequest> {
  const out = new Map<string, RecordedRequest>();
  for (const r of reqs) {
    const id = idOf(r);
    if (id !== undefined && !out.has(id)) out.set(id, r);
  }
  return out;
}

async function untilReceived(hook: HttpReceiver, idOf: (r: RecordedRequest) => string | undefined, n: number, label: string): Promise<Map<string, RecordedRequest>> {
  return waitFor(() => {
    const got = firstById(hook.requests, idOf);
    return got.size >= n ? got : undefined;
  }, { timeoutMs: SETTLE_MS, intervalMs: 200, message: `${label}: ${n} notifications received` });
}

function startRole(role: string, env: Record<string, string>, tmpRoot: string, cleanup: Cleanup): NodeChild {
  const child = spawnNode({
    name: role,
    args: ["dist/src/cli.js", "worker", role],
    cwd: REPO_ROOT,
    env: { ...env, NODE_ID: role, DATA_DIR: mkdtempSync(join(tmpRoot, `data-${role}-`)) },
    logFile: join(tmpRoot, `${role}.log`),
    ...(CPU_PROF_DIR ? { nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${resolve(CPU_PROF_DIR)}`, `--cpu-prof-name=${role}.cpuprofile`] } : {}),
  });
  cleanup.defer(`stop ${role}`, () => child.stop());
  return child;
}

async function measureOpsbus(tmpRoot: string, cleanup: Cleanup): Promise<Side> {
  const hook = await startHttpReceiver();
  cleanup.defer("close opsbus receiver", () => hook.close());
  const { nats, nc, js, jsm } = await benchServer(cleanup);
  const db = await createTestDatabase();
  cleanup.defer(`drop database ${db.name}`, () => db.drop());
  const env = {
    NATS_URL: nats.url,
    OPSBUS_START_NATS: "0",
    OPS_ENV: "dev",
    LOG_LEVEL: "warn",
    ALERT_BACKEND: "postgres",
    ALERT_DATABASE_URL: db.url,
    INCIDENT_BACKEND: "postgres",
    INCIDENT_DATABASE_URL: db.url,
    AUDIT_BACKEND: "memory",
    RISK_BACKEND: "memory",
    BACKLOG_BACKEND: "memory",
    JOB_BACKEND: "memory",
    BENCH_NOTIFY_HOOK: hook.url,
    CONFIG_DIR: configDirWith({
      "receivers.yml": { receivers: [{ name: "bench", webhook: { url_env: "BENCH_NOTIFY_HOOK" } }] },
      // group_interval 1ms: a resolved is not held back behind its opened (Alertmanager's 1s re-notifies a group; no such wait here).
      "notification_routes.yml": { route: { receiver: "bench", group_by: ["service"], group_wait: "0s", group_interval: "1ms", routes: [] } },
      // One agent opens every incident: past the default per-agent bucket.
      "tool_limits.yml": { agents: { helion: { rate_per_minute: 6_000_000, burst: 100_000 } } },
    }),
  };
  const gateway = startRole("gateway", env, tmpRoot, cleanup);
  const svc = new Svcm(nc).client({ strategy: "stall", maxWait: 1_000, stall: 200 });
  const guardGw = crashGuard(gateway);
  await Promise.race([
    guardGw.promise,
    waitFor(async () => {
      for await (const _ of await svc.ping(SERVICE_NAME)) return true;
      return false;
    }, { timeoutMs: 60_000, intervalMs: 200, message: "opsbus gateway answering $SRV.PING" }),
  ]);
  const notifier = startRole("notifier", env, tmpRoot, cleanup);
  const guardNt = crashGuard(notifier);
  const pulling = async (stream: string, consumer: string) => (await jsm.consumers.info(stream, consumer)).num_waiting > 0;
  await Promise.race([
    guardGw.promise,
    guardNt.promise,
    waitFor(async () => (await pulling(S.notify.stream, S.notify.consumer)) && (await pulling(S.events.stream, S.notify.plannerConsumer)), {
      timeoutMs: 60_000, intervalMs: 200, message: "opsbus notifier pulling",
    }),
  ]);

  // Each incident is opened, and closed once its `opened` arrived: two moments, both measured. Closing
  // keeps the set of open incidents small, as in production (see the notes on the repeat sweep).
  const sentAt = new Map<string, number>();
  const idOf = (r: RecordedRequest) => {
    const i = (r.json as { incident?: { title?: string; moment?: string } } | undefined)?.incident;
    return i?.title !== undefined ? `${i.title}|${i.moment}` : undefined;
  };
  const seen = new Set<string>();
  let scanned = 0;
  const scan = setInterval(() => {
    for (; scanned < hook.requests.length; scanned++) {
      const id = idOf(hook.requests[scanned]!);
      if (id) seen.add(id);
    }
  }, 2);
  cleanup.defer("stop scanning", () => clearInterval(scan));
  const call = async (action: string, params: Record<string, unknown>) => {
    const body = JSON.stringify({ action, agent_id: "helion", params });
    const reply = (await nc.request(S.tools.of("oncall_tool"), body, { timeout: 60_000 })).json<ToolReply<{ incident: { id: string } }>>();
    if (!reply.ok) throw new Error(`${action}: ${JSON.stringify(reply).slice(0, 300)}`);
    return reply.result;
  };
  const idByTitle = new Map<string, string>();
  const incident = (title: string) => async () => {
    sentAt.set(`${title}|opened`, Date.now());
    const { incident: inc } = await call("incident_create", { service: `svc-${sentAt.size % 100}`, severity: "P2", title });
    idByTitle.set(title, inc.id);
    await waitFor(() => seen.has(`${title}|opened`), { timeoutMs: SETTLE_MS, intervalMs: 5, message: `${title} opened received` });
    sentAt.set(`${title}|resolved`, Date.now());
    await call("incident_close", { incident_id: inc.id, resolution: "bench" });
  };
  const perSec = RATE / 2;
  say(`opsbus: ${WARMUP / 2} warm-up incidents (opened, closed)`);
  // A notification that never arrives: where it is (sent-log, consumers, the processes' warnings).
  const stalled = async (message: string): Promise<never> => {
    const missing = [...sentAt.keys()].filter((k) => !seen.has(k)).map((k) => ({ incident_id: idByTitle.get(k.slice(0, k.indexOf("|"))) ?? "?", what: k }));
    const report = await notifyStallReport({
      js, jsm, subjects: S, missing, summary: [`${seen.size} of ${sentAt.size} moments received`],
      processes: ["gateway", "notifier"].map((name) => ({ name, output: readFileSync(join(tmpRoot, `${name}.log`), "utf8") })),
    }).catch((err: Error) => `stall report failed: ${err.message}`);
    throw new Error(`${message}\n${report}`);
  };
  const warm = await paced(WARMUP / 2, perSec, (i) => incident(`warmup ${i}`)());
  if (warm.failed) await stalled(`opsbus warm-up: ${warm.failed} failed: ${warm.failures.join("; ")}`);
  await untilReceived(hook, idOf, WARMUP, "opsbus warm-up").catch((err: Error) => stalled(err.message));
  say(`opsbus: ${MOMENTS / 2} incidents opened and closed (${MOMENTS} moments at ${RATE}/s)`);
  const load = await paced(MOMENTS / 2, perSec, (i) => incident(`bench ${i}`)());
  if (load.failed) await stalled(`opsbus: ${load.failed} failed: ${load.failures.join("; ")}`);
  const got = await untilReceived(hook, idOf, WARMUP + MOMENTS, "opsbus").catch((err: Error) => stalled(err.message));
  guardGw.cancel();
  guardNt.cancel();
  const fromEvent: number[] = [];
  const fromRequest: number[] = [];
  for (const [id, r] of got) {
    if (!id.startsWith("bench ")) continue;
    fromEvent.push(r.at - Date.parse((r.json as { incident: { moment_at: string } }).incident.moment_at));
    fromRequest.push(r.at - sentAt.get(id)!);
  }
  const mem = notifier.memory.read();
  const dump = DUMP_FILE ? createWriteStream(DUMP_FILE) : undefined;
  const stages = await notifyStages(js, { eventsStream: S.events.stream, eventsFilter: S.notify.plannerFilter, sentLogBucket: S.notify.sentLogBucket }, receivedByKey(got), dump && ((row) => dump.write(`${JSON.stringify(row)}\n`)));
  dump?.end();
  return {
    stages,
    latency: summarize(fromEvent),
    fromRequest: summarize(fromRequest),
    rssMb: Math.max(mem.peakSampledKb, mem.hwmKb) / 1024,
    load,
    requests: hook.requests.length,
    distinct: got.size,
  };
}

/** The sent-log keys of the measured notifications, each with the time the receiver got it. */
function receivedByKey(got: Map<string, RecordedRequest>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [title, req] of got) if (title.startsWith("bench ")) out.set(String(req.headers["idempotency-key"]), req.at);
  return out;
}

async function measureAlertmanager(bin: string, tmpRoot: string, cleanup: Cleanup): Promise<Side> {
  const hook = await startHttpReceiver();
  cleanup.defer("close alertmanager receiver", () => hook.close());
  const am = await startWebhookAlertmanager(bin, tmpRoot, hook.url, cleanup);
  const sentAt = new Map<string, number>();
  const post = (alertname: string) => async () => {
    const body = JSON.stringify([{ labels: { alertname, service: "bench", severity: "P2" }, annotations: { summary: alertname }, startsAt: new Date().toISOString() }]);
    sentAt.set(alertname, Date.now());
    const r = await fetch(`${am.url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`POST /api/v2/alerts: HTTP ${r.status}`);
  };
  const nameOf = (r: RecordedRequest) => (r.json as { alerts?: Array<{ labels?: { alertname?: string } }> } | undefined)?.alerts?.[0]?.labels?.alertname;
  say(`alertmanager: ${WARMUP} warm-up alerts`);
  const warm = await paced(WARMUP, RATE, (i) => post(`warmup-${i}`)());
  if (warm.failed) throw new Error(`alertmanager warm-up: ${warm.failed} POSTs failed: ${warm.failures.join("; ")}`);
  await untilReceived(hook, nameOf, WARMUP, "alertmanager warm-up");
  say(`alertmanager: ${MOMENTS} alerts at ${RATE}/s`);
  const load = await paced(MOMENTS, RATE, (i) => post(`bench-${i}`)());
  if (load.failed) throw new Error(`alertmanager: ${load.failed} POSTs failed: ${load.failures.join("; ")}`);
  const got = await untilReceived(hook, nameOf, WARMUP + MOMENTS, "alertmanager");
  const lat: number[] = [];
  for (const [name, r] of got) if (name.startsWith("bench-")) lat.push(r.at - sentAt.get(name)!);
  const mem = am.memory.read();
  // Stopped before opsbus is measured: 10,000 groups ticking every group_interval cost CPU.
  await am.stop();
  return { latency: summarize(lat), rssMb: Math.max(mem.peakSampledKb, mem.hwmKb) / 1024, load, requests: hook.requests.length, distinct: got.size };
}

const ms = (l: LatencySummary) => `p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms, max ${l.max_ms} ms`;

export async function run(): Promise<number> {
  const cleanup = new Cleanup();
  const uninstall = cleanup.onSignals();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-notify-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  try {
    // BENCH_NOTIFY_ALERTMANAGER=0: opsbus alone (profiling runs).
    const bin = process.env.BENCH_NOTIFY_ALERTMANAGER === "0" ? null : alertmanagerBinary();
    say(`bench notify: ${MOMENTS} moments at ${RATE}/s (+${WARMUP} warm-up) each, ${cpus().length} cores; Alertmanager: ${bin ?? "not installed (apt-get install prometheus-alertmanager)"}`);
    const am = bin ? await measureAlertmanager(bin, tmpRoot, cleanup) : undefined;
    if (am) say(`alertmanager: ${ms(am.latency)}; ${am.requests} webhook requests for ${am.distinct} alerts; RSS ${am.rssMb.toFixed(0)} MB`);
    const ops = await measureOpsbus(tmpRoot, cleanup);
    say(`opsbus: from the event ${ms(ops.latency)}; from the call ${ms(ops.fromRequest!)}; ${ops.requests} webhook requests for ${ops.distinct} moments; notifier RSS ${ops.rssMb.toFixed(0)} MB`);

    const base = (name: string, v: number | undefined, unit: string) => (v !== undefined ? { baseline: { name, value: v, unit } } : {});
    const figures: Figure[] = [
      ...(am
        ? [
            ratioFigure({ figure: "Alertmanager: POST → webhook received, p50", value: am.latency.p50_ms, unit: "ms" }),
            ratioFigure({ figure: "Alertmanager: POST → webhook received, p99", value: am.latency.p99_ms, unit: "ms" }),
          ]
        : []),
      ratioFigure({ figure: "opsbus: incident committed (incident.created) → webhook received, p50", value: ops.latency.p50_ms, unit: "ms", ...base("Alertmanager p50", am?.latency.p50_ms, "ms") }),
      ratioFigure({ figure: "opsbus: incident committed (incident.created) → webhook received, p99", value: ops.latency.p99_ms, unit: "ms", ...base("Alertmanager p99", am?.latency.p99_ms, "ms") }, am ? { max: 1.0 } : undefined),
      ratioFigure({ figure: "opsbus: incident_create sent → webhook received, p50", value: ops.fromRequest!.p50_ms, unit: "ms", ...base("Alertmanager p50", am?.latency.p50_ms, "ms") }),
      ratioFigure({ figure: "opsbus: incident_create sent → webhook received, p99", value: ops.fromRequest!.p99_ms, unit: "ms", ...base("Alertmanager p99", am?.latency.p99_ms, "ms") }),
      ...(am ? [ratioFigure({ figure: "Alertmanager: peak RSS", value: am.rssMb, unit: "MB" })] : []),
      ratioFigure({ figure: "opsbus: notifier peak RSS", value: ops.rssMb, unit: "MB", ...base("Alertmanager", am?.rssMb, "MB") }),
    ];
    const notes = [
      `${MOMENTS} moments each, started open-loop at ${RATE}/s after ${WARMUP} unmeasured warm-up ones; one webhook receiver each, a Node HTTP server in the bench process answering 200`,
      `opsbus: gateway and notifier processes (dist/), incidents on Postgres; ${MOMENTS / 2} incidents opened (oncall_tool.incident_create over NATS) and each closed once its opened arrived, so ${MOMENTS / 2} opened + ${MOMENTS / 2} resolved; route group_wait 0s, group_interval 1ms; ` +
        "measured from the incident.created event's time (the gateway stamps it when it publishes the event, after the store commit; the body carries it as incident.moment_at)",
      "Alertmanager: one alert per POST /api/v2/alerts, one group per alert (group_by [alertname]), group_wait 0s, group_interval 1s; measured from the POST",
      `webhook requests received: opsbus ${ops.requests} for ${ops.distinct} moments${am ? `, Alertmanager ${am.requests} for ${am.distinct}` : ""}; ` +
        `calls held back by the in-flight cap: opsbus ${ops.load.heldBack}${am ? `, Alertmanager ${am.load.heldBack}` : ""}`,
      `opsbus stages (event stream and sent-log revision times, ms): ${Object.entries(ops.stages ?? {}).map(([k, v]) => `${k} p50 ${v.p50_ms} / p99 ${v.p99_ms} / max ${v.max_ms}`).join("; ")}`,
      `max: opsbus ${ops.latency.max_ms} ms (from the call ${ops.fromRequest!.max_ms} ms)${am ? `, Alertmanager ${am.latency.max_ms} ms` : ""}`,
      ...(am ? [] : ["Alertmanager not installed: no comparison (apt-get install prometheus-alertmanager)"]),
    ];
    printSection("Incident moment → webhook receiver: opsbus and Prometheus Alertmanager", figures, notes);
    say(`results: ${writeResults(BENCH_DIR, "notify", { bench: "notify", at: new Date().toISOString(), plan: PLAN, figures, notes, opsbus: ops, alertmanager: am ?? null })}`);
    return 0;
  } catch (err) {
    say(`\nbench notify failed: ${(err as Error).stack ?? err}`);
    return 1;
  } finally {
    uninstall();
    await cleanup.run();
  }
}
