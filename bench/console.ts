/**
 * `npm run bench -- console`: the operator console on a gateway from dist/ (a real nats-server,
 * incidents and audit on a fresh Postgres database, the console's sessions in KV).
 *
 *   1. The incidents page: BENCH_CONSOLE_INCIDENTS incidents (default 10,000) written with the
 *      store's bulk import, one session logged in with an API key, then GET /console/incidents
 *      (the first page and older pages by `?until=`, deep ones included) BENCH_CONSOLE_REQUESTS
 *      times (default 1,000), one request at a time over one keep-alive connection (undici).
 *      Baseline, asked in turn with the page so machine noise lands on both alike: the page's own
 *      data call, `oncall_tool.incident_list` on the tool API (POST /v1/tools/oncall_tool, the
 *      same params); `GET /-/healthy` shows the HTTP floor. Target: page p99 ≤ 100 ms.
 *   2. The live feed: BENCH_CONSOLE_CLIENTS sessions (default 200), each with a GET /console/events
 *      open; BENCH_CONSOLE_EVENTS incident events (default 200) published on OPS_EVENTS (the
 *      EventPublisher the workers use) at BENCH_CONSOLE_EVENT_RATE per second (default 20);
 *      latency: publish → the last client received it, p99 target ≤ 500 ms. The gateway's VmRSS
 *      before and after the clients connected.
 *
 * BENCH_CONSOLE_CPU_PROF=<dir> profiles the gateway (`npx tsx bench/lib/cpuprofile-top.ts <file>`).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { newIncidentId } from "../src/ids.js";
import type { IncidentRecord } from "../src/incidents/store.js";
import { EventPublisher } from "../src/nats/events.js";
import { PostgresIncidentStore } from "../src/stores/incidents/postgres.js";
import { createPool } from "../src/stores/pg.js";
import { naming, subjects } from "../src/subjects/index.js";
import { configDirWith } from "../test/harness/config.js";
import { freePort } from "../test/harness/ports.js";
import { createTestDatabase } from "../test/harness/postgres.js";
import { waitFor } from "../test/harness/wait.js";
import { crashGuard, spawnNode, type NodeChild } from "./lib/child.js";
import { Cleanup } from "./lib/cleanup.js";
import { progress, say } from "./lib/progress.js";
import { printSection, ratioFigure, writeResults, type Figure } from "./lib/report.js";
import { benchServer } from "./lib/server.js";
import { connectSseFleet } from "./lib/sse-clients.js";
import { summarize, type LatencySummary } from "./lib/stats.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, "..");
const S = subjects(naming());
const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const INCIDENTS = knob("BENCH_CONSOLE_INCIDENTS", 10_000);
const REQUESTS = knob("BENCH_CONSOLE_REQUESTS", 1_000);
const CLIENTS = knob("BENCH_CONSOLE_CLIENTS", 200);
const EVENTS = knob("BENCH_CONSOLE_EVENTS", 200);
const EVENT_RATE = knob("BENCH_CONSOLE_EVENT_RATE", 20);
const WARMUP = Math.min(100, Math.max(5, Math.floor(REQUESTS / 10)));
const CPU_PROF_DIR = process.env.BENCH_CONSOLE_CPU_PROF;
const PLAN = { incidents: INCIDENTS, requests: REQUESTS, warmup: WARMUP, clients: CLIENTS, events: EVENTS, event_rate_per_s: EVENT_RATE } as const;
const PAGE_P99_MS = 100;
const FANOUT_P99_MS = 500;
/** The page asks for one more than it shows (to know whether there is an older page). */
const PAGE_ROWS = 25;
const AGENT = "helion";
const API_KEY = "bench-console-key-0000000000000000";
const BYTES_PER_MB = 1024 * 1024;

/** Incidents one every two minutes back from now: a distinct minute each (ids carry the minute). */
function seedIncidents(n: number, now: number): IncidentRecord[] {
  const statuses = ["open", "mitigating", "closed"] as const;
  const severities = ["P0", "P1", "P2", "P3"] as const;
  return Array.from({ length: n }, (_, i) => {
    const started = new Date(now - (i + 1) * 120_000);
    const at = started.toISOString();
    const status = statuses[i % 7 === 0 ? 0 : i % 7 === 1 ? 1 : 2];
    return {
      id: newIncidentId(started),
      service: `svc-${i % 40}`,
      env: "prod",
      severity: severities[i % 4]!,
      title: `Bench incident ${i}: latency over SLO on <svc-${i % 40}> & "friends"`,
      status,
      started_at: at,
      created_at: at,
      updated_at: at,
      ...(status === "closed" ? { closed_at: new Date(started.getTime() + 60_000).toISOString(), resolution: "bench" } : {}),
      created_by: "bench",
      alert_count: 1 + (i % 5),
      reopened_count: 0,
      labels: { kind: "latency", region: i % 2 ? "eu" : "us" },
    };
  });
}

function vmRssKb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

interface Gateway {
  child: NodeChild;
  base: string;
}

async function startGateway(env: Record<string, string>, tmpRoot: string, cleanup: Cleanup): Promise<Gateway> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawnNode({
    name: "gateway",
    args: ["dist/src/cli.js", "worker", "gateway"],
    cwd: REPO_ROOT,
    env: { ...env, NODE_ID: "gateway", HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", DATA_DIR: mkdtempSync(join(tmpRoot, "data-gateway-")) },
    logFile: join(tmpRoot, "gateway.log"),
    ...(CPU_PROF_DIR ? { nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${resolve(CPU_PROF_DIR)}`, "--cpu-prof-name=console-gateway.cpuprofile"] } : {}),
  });
  cleanup.defer("stop gateway", () => child.stop());
  const guard = crashGuard(child);
  try {
    await Promise.race([guard.promise, waitFor(async () => (await fetch(`${base}/-/healthy`)).status === 200, { timeoutMs: 60_000, intervalMs: 200, message: "gateway answering /-/healthy" })]);
  } finally {
    guard.cancel();
  }
  return { child, base };
}

interface Session {
  cookie: string;
}

async function login(dispatcher: Agent, base: string): Promise<Session> {
  const res = await request(`${base}/console/login`, { dispatcher, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: API_KEY }) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`POST /console/login: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
  const set = res.headers["set-cookie"];
  return { cookie: String(Array.isArray(set) ? set[0] : set).split(";")[0]! };
}

interface PagesResult {
  page: LatencySummary;
  toolCall: LatencySummary;
  healthy: LatencySummary;
  pageBytes: number;
  urls: string[];
}

/** The page, its data call and the HTTP floor, asked in turn, one request at a time. */
async function measurePages(base: string, dispatcher: Agent, session: Session, seeded: IncidentRecord[]): Promise<PagesResult> {
  // The first page, the next two (as the Older link would give), and pages a third, two thirds and all the way down.
  const untilAt = (k: number) => seeded[Math.min(seeded.length - 1, k)]!.started_at;
  const deep = [PAGE_ROWS - 1, 2 * PAGE_ROWS - 1, Math.floor(seeded.length / 3), Math.floor((2 * seeded.length) / 3), seeded.length - PAGE_ROWS];
  const urls = ["/console/incidents", ...[...new Set(deep.filter((k) => k > 0 && k < seeded.length))].map((k) => `/console/incidents?until=${encodeURIComponent(untilAt(k))}`)];
  const paramsOf = (url: string) => {
    const until = new URL(url, base).searchParams.get("until");
    return { limit: PAGE_ROWS + 1, ...(until ? { until } : {}) };
  };
  let pageBytes = 0;
  const timed = async (go: () => Promise<{ status: number; text: string }>, ok: (r: { status: number; text: string }) => boolean, what: string) => {
    const t0 = performance.now();
    const r = await go();
    const ms = performance.now() - t0;
    if (!ok(r)) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    return ms;
  };
  const send = async (path: string, init: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: string }) => {
    const res = await request(`${base}${path}`, { dispatcher, ...init });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const page = (url: string) =>
    timed(() => send(url, { headers: { cookie: session.cookie } }), (r) => {
      pageBytes = Math.max(pageBytes, r.text.length);
      return r.status === 200 && r.text.includes('<table class="incidents">');
    }, `GET ${url}`);
  const tool = (url: string) =>
    timed(
      () => send("/v1/tools/oncall_tool", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }, body: JSON.stringify({ action: "incident_list", params: paramsOf(url) }) }),
      (r) => r.status === 200 && ((JSON.parse(r.text) as { result?: { incidents?: unknown[] } }).result?.incidents?.length ?? 0) > 0,
      "oncall_tool.incident_list",
    );
  const healthy = () => timed(() => send("/-/healthy", {}), (r) => r.status === 200, "GET /-/healthy");
  for (let i = 0; i < WARMUP; i++) {
    for (const url of urls) {
      await page(url);
      await tool(url);
      await healthy();
    }
  }
  const samples = { page: [] as number[], tool: [] as number[], healthy: [] as number[] };
  const bar = progress(`pages: ${REQUESTS} × (page, incident_list, /-/healthy) over ${urls.length} pages`, REQUESTS);
  for (let i = 0; i < REQUESTS; i++) {
    const url = urls[i % urls.length]!;
    samples.page.push(await page(url));
    samples.tool.push(await tool(url));
    samples.healthy.push(await healthy());
    bar.update(i + 1);
  }
  bar.finish();
  return { page: summarize(samples.page), toolCall: summarize(samples.tool), healthy: summarize(samples.healthy), pageBytes, urls };
}

interface FanoutResult {
  /** Per event: publish → the last client had it. */
  all: LatencySummary;
  /** Per event and client. */
  each: LatencySummary;
  rssBeforeMb: number;
  rssConnectedMb: number;
  rssAfterMb: number;
  connectMs: number;
  missing: number;
}

async function measureFanout(gw: Gateway, dispatcher: Agent, publisher: EventPublisher, incidentId: string): Promise<FanoutResult> {
  say(`fan-out: ${CLIENTS} sessions logging in`);
  const cookies: string[] = [];
  for (let i = 0; i < CLIENTS; i++) cookies.push((await login(dispatcher, gw.base)).cookie);
  const rssBefore = vmRssKb(gw.child.pid);
  const t0 = performance.now();
  const fleet = await connectSseFleet(`${gw.base}/console/events`, cookies);
  const connectMs = performance.now() - t0;
  const rssConnected = vmRssKb(gw.child.pid);
  say(`fan-out: ${CLIENTS} clients joined in ${connectMs.toFixed(0)} ms; publishing ${EVENTS} incident events at ${EVENT_RATE}/s`);
  try {
    const publishedAt = new Map<number, number>();
    const started = performance.now();
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < EVENTS; i++) {
      const slot = started + (i * 1000) / EVENT_RATE - performance.now();
      if (slot > 0) await new Promise((r) => setTimeout(r, slot)); // pacing: event i goes out at its slot
      const at = performance.now();
      pending.push(publisher.publish("incident.updated", { incident_id: incidentId, event_type: "note", by: "bench", status: "open" }).then((ack) => void publishedAt.set(ack.seq, at)));
    }
    await Promise.all(pending);
    const seqs = [...publishedAt.keys()];
    const missingNow = () => fleet.clients.reduce((n, c) => n + seqs.filter((q) => !c.arrived.has(q)).length, 0);
    await waitFor(() => missingNow() === 0, { timeoutMs: 60_000, intervalMs: 50, message: `every client to receive all ${EVENTS} events` }).catch(() => undefined);
    const missing = missingNow();
    const all: number[] = [];
    const each: number[] = [];
    for (const [seq, at] of publishedAt) {
      let last = 0;
      for (const c of fleet.clients) {
        const got = c.arrived.get(seq);
        if (got === undefined) continue;
        each.push(got - at);
        last = Math.max(last, got - at);
      }
      all.push(last);
    }
    const rssAfter = vmRssKb(gw.child.pid);
    return { all: summarize(all), each: summarize(each), rssBeforeMb: rssBefore / 1024, rssConnectedMb: rssConnected / 1024, rssAfterMb: rssAfter / 1024, connectMs, missing };
  } finally {
    await fleet.close();
  }
}

const ms = (l: LatencySummary) => `p50 ${l.p50_ms.toFixed(1)} ms, p99 ${l.p99_ms.toFixed(1)} ms, max ${l.max_ms.toFixed(1)} ms`;
/** A figure against its baseline with an absolute target (the ratio shown as context). */
const absolute = (f: Parameters<typeof ratioFigure>[0], max: number): Figure => ({ ...ratioFigure(f), target: `≤ ${max} ${f.unit}`, pass: f.value <= max });

export async function run(): Promise<number> {
  const cleanup = new Cleanup();
  const uninstall = cleanup.onSignals();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-console-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  try {
    say(`bench console: ${INCIDENTS} incidents, ${REQUESTS} page requests (+${WARMUP} warm-up rounds), ${CLIENTS} SSE clients × ${EVENTS} events; ${cpus().length} cores`);
    const { nats, js } = await benchServer(cleanup);
    const db = await createTestDatabase();
    cleanup.defer(`drop database ${db.name}`, () => db.drop());

    const store = new PostgresIncidentStore({ pool: createPool(db.url, { max: 2 }) });
    await store.init();
    const seeded = seedIncidents(INCIDENTS, Date.now());
    const t0 = performance.now();
    for (let i = 0; i < seeded.length; i += 5_000) await store.importRows(seeded.slice(i, i + 5_000).map((data) => ({ kind: "incident" as const, data })));
    say(`seeded ${INCIDENTS} incidents in ${(performance.now() - t0).toFixed(0)} ms (bulk import)`);
    await store.close();

    const configDir = configDirWith({ "tool_limits.yml": { agents: { [AGENT]: { rate_per_minute: 6_000_000, burst: 100_000 } } } });
    cleanup.defer("remove config dir", () => rmSync(configDir, { recursive: true, force: true }));
    const gw = await startGateway({
      NATS_URL: nats.url,
      OPSBUS_START_NATS: "0",
      OPS_ENV: "dev",
      LOG_LEVEL: "warn",
      CONFIG_DIR: configDir,
      OPSBUS_API_KEYS: `${AGENT}=${API_KEY}`,
      ALERT_BACKEND: "postgres",
      ALERT_DATABASE_URL: db.url,
      INCIDENT_BACKEND: "postgres",
      INCIDENT_DATABASE_URL: db.url,
      AUDIT_BACKEND: "postgres",
      AUDIT_DATABASE_URL: db.url,
      RISK_BACKEND: "memory",
      BACKLOG_BACKEND: "memory",
      JOB_BACKEND: "memory",
    }, tmpRoot, cleanup);
    const guard = crashGuard(gw.child);
    const dispatcher = new Agent({ connections: 1, pipelining: 1 });
    cleanup.defer("close HTTP client", () => dispatcher.destroy());

    const [pages, fanout] = await Promise.race([
      guard.promise,
      (async () => {
        const session = await login(dispatcher, gw.base);
        const p = await measurePages(gw.base, dispatcher, session, seeded);
        say(`pages: page ${ms(p.page)}; incident_list ${ms(p.toolCall)}; /-/healthy ${ms(p.healthy)}`);
        const f = await measureFanout(gw, dispatcher, new EventPublisher(js, S, "bench"), seeded[0]!.id);
        say(`fan-out: publish → all ${CLIENTS} clients ${ms(f.all)}; gateway RSS ${f.rssBeforeMb.toFixed(0)} → ${f.rssConnectedMb.toFixed(0)} → ${f.rssAfterMb.toFixed(0)} MB`);
        return [p, f] as const;
      })(),
    ]);
    guard.cancel();

    const base = (name: string, l: LatencySummary, k: "p50_ms" | "p99_ms") => ({ baseline: { name: `${name} ${k.slice(0, 3)}`, value: l[k], unit: "ms" } });
    const figures: Figure[] = [
      ratioFigure({ figure: "GET /-/healthy, p99 (the HTTP floor)", value: pages.healthy.p99_ms, unit: "ms" }),
      ratioFigure({ figure: "oncall_tool.incident_list over /v1/tools (the page's data call), p50", value: pages.toolCall.p50_ms, unit: "ms" }),
      ratioFigure({ figure: "oncall_tool.incident_list over /v1/tools (the page's data call), p99", value: pages.toolCall.p99_ms, unit: "ms" }),
      ratioFigure({ figure: `GET /console/incidents (${INCIDENTS} incidents, session), p50`, value: pages.page.p50_ms, unit: "ms", ...base("incident_list", pages.toolCall, "p50_ms") }),
      absolute({ figure: `GET /console/incidents (${INCIDENTS} incidents, session), p99`, value: pages.page.p99_ms, unit: "ms", ...base("incident_list", pages.toolCall, "p99_ms") }, PAGE_P99_MS),
      ratioFigure({ figure: `SSE: publish → each of ${CLIENTS} clients, p99`, value: fanout.each.p99_ms, unit: "ms" }),
      absolute({ figure: `SSE: publish → all ${CLIENTS} clients received, p50`, value: fanout.all.p50_ms, unit: "ms", ...base("each client", fanout.each, "p50_ms") }, FANOUT_P99_MS),
      absolute({ figure: `SSE: publish → all ${CLIENTS} clients received, p99`, value: fanout.all.p99_ms, unit: "ms", ...base("each client", fanout.each, "p99_ms") }, FANOUT_P99_MS),
      ratioFigure({ figure: "gateway RSS before the SSE clients", value: fanout.rssBeforeMb, unit: "MB" }),
      ratioFigure({ figure: `gateway RSS with ${CLIENTS} SSE clients (after the events)`, value: fanout.rssAfterMb, unit: "MB", baseline: { name: "before", value: fanout.rssBeforeMb, unit: "MB" } }),
    ];
    const perClientKb = ((fanout.rssConnectedMb - fanout.rssBeforeMb) * 1024) / Math.max(1, CLIENTS);
    const notes = [
      `pages: ${REQUESTS} requests each of the page, its data call and /-/healthy, in turn, one at a time over one keep-alive connection (undici), after ${WARMUP} warm-up rounds; measured in the bench process on loopback (server time + loopback)`,
      `${pages.urls.length} page URLs in rotation: the first page, the next two, and pages a third, two thirds and all the way down (?until=); largest page ${(pages.pageBytes / 1024).toFixed(1)} KiB`,
      "incidents, audit and alerts on Postgres; the session in the CONSOLE_SESSIONS KV bucket (looked up on every page); one gateway process from dist/",
      `fan-out: ${CLIENTS} sessions, one GET /console/events each on its own connection; ${EVENTS} incident.updated events published with the workers' EventPublisher at ${EVENT_RATE}/s; latency from just before the publish to the frame's arrival in the bench process; ${fanout.missing} (event, client) deliveries missing after 60 s`,
      `gateway VmRSS: ${fanout.rssBeforeMb.toFixed(1)} MB before, ${fanout.rssConnectedMb.toFixed(1)} MB with ${CLIENTS} clients joined (${perClientKb.toFixed(0)} KiB per client), ${fanout.rssAfterMb.toFixed(1)} MB after the events; clients joined in ${fanout.connectMs.toFixed(0)} ms`,
      `max: page ${pages.page.max_ms.toFixed(1)} ms, incident_list ${pages.toolCall.max_ms.toFixed(1)} ms, fan-out ${fanout.all.max_ms.toFixed(1)} ms`,
    ];
    printSection("Operator console: incidents page and live-feed fan-out", figures, notes);
    say(`results: ${writeResults(BENCH_DIR, "console", { bench: "console", at: new Date().toISOString(), plan: PLAN, figures, notes, pages, fanout })}`);
    return fanout.missing === 0 ? 0 : 1;
  } catch (err) {
    say(`\nbench console failed: ${(err as Error).stack ?? err}`);
    return 1;
  } finally {
    uninstall();
    await cleanup.run();
  }
}
