/**
 * The checks behind `opsbus verify`: each asks a running node over NATS and says pass or fail,
 * and whether a failure is critical (exit 1). No stores or streams are opened here.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm, type ServiceIdentity, type ServiceInfo } from "@nats-io/services";
import { canonicalJson } from "../observability/monitor/digest.js";
import type { MonitorStatus } from "../observability/monitor/status.js";
import { SERVICE_NAME, type Subjects, type ToolReply } from "../subjects/index.js";

export interface Check {
  name: string;
  ok: boolean;
  /** A failed critical check fails the verification (exit 1); others are warnings. */
  critical: boolean;
  detail: string;
  skipped?: boolean;
}

export interface Target {
  nc: NatsConnection;
  subjects: Subjects;
  /** The node to check; undefined = whichever answers. */
  node?: string;
  timeoutMs: number;
}

const pass = (name: string, detail: string, critical = true): Check => ({ name, ok: true, critical, detail });
const fail = (name: string, detail: string, critical = true): Check => ({ name, ok: false, critical, detail });
const skip = (name: string, detail: string): Check => ({ name, ok: true, critical: false, detail, skipped: true });

export function errorText(err: unknown): string {
  const msg = (err as Error)?.message ?? String(err);
  return /no responders/i.test(msg) ? "no responders" : /timeout/i.test(msg) ? "timeout" : msg;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const ofNode = (node: string | undefined) => (s: ServiceIdentity) => node === undefined || s.metadata?.node_id === node;

/** $SRV.PING and $SRV.INFO for opsbus-tools: the gateway is up and serves its tools. */
export async function gatewayChecks(t: Target): Promise<Check[]> {
  const client = new Svcm(t.nc).client({ strategy: "stall", maxWait: t.timeoutMs, stall: 300 });
  let pings: ServiceIdentity[];
  try {
    pings = (await collect(await client.ping(SERVICE_NAME))).filter(ofNode(t.node));
  } catch (err) {
    return [fail("gateway_ping", `$SRV.PING.${SERVICE_NAME}: ${errorText(err)}`)];
  }
  if (!pings.length) return [fail("gateway_ping", `no ${SERVICE_NAME} instance${t.node ? ` of node ${t.node}` : ""} answered $SRV.PING`)];
  const out = [pass("gateway_ping", `${pings.length} instance(s), version ${[...new Set(pings.map((p) => p.version))].join(", ")}`)];
  const infos = (await collect(await client.info(SERVICE_NAME)).catch((): ServiceInfo[] => [])).filter(ofNode(t.node));
  const tools = [...new Set(infos.flatMap((i) => i.endpoints.map((e) => e.name)))].sort();
  out.push(tools.length ? pass("gateway_info", `${tools.length} tools: ${tools.join(", ")}`) : fail("gateway_info", "$SRV.INFO lists no tool endpoints"));
  return out;
}

interface HealthAnswer {
  ok: boolean;
  node_id?: string;
  queues?: Array<{ consumer: string; depth: number }> | { error: string };
  audit?: Array<{ writer: string; backlog: number; dead_lettered: number }>;
  /** Why not ok (absent from nodes before consumer health). */
  problems?: string[];
  /** What works but should change, e.g. a JSONL store past JSONL_WARN_RECORDS (absent from older nodes). */
  warnings?: string[];
  /** Receivers that are off: nobody routed to them is notified (absent from nodes before notifications). */
  receivers_off?: string[];
}

/** Consumers by depth and audit writers by backlog, for a passing check's detail. */
function healthSummary(h: HealthAnswer): string {
  const queues = Array.isArray(h.queues) ? h.queues.map((q) => `${q.consumer} ${q.depth}`).join(", ") : "";
  const audit = (h.audit ?? []).map((a) => `audit ${a.writer}: backlog ${a.backlog}, dead letters ${a.dead_lettered}`).join(", ");
  return [queues && `depth ${queues}`, audit].filter(Boolean).join("; ");
}

/**
 * ops.health is ok: every consumer moving or idle (none missing its workers or stalled), the audit
 * keeping up; and its warnings (a store past JSONL_WARN_RECORDS), a check that only warns.
 */
export async function healthChecks(t: Target): Promise<Check[]> {
  let h: HealthAnswer;
  try {
    h = (await t.nc.request(t.subjects.tools.health, "", { timeout: t.timeoutMs })).json<HealthAnswer>();
  } catch (err) {
    return [fail("health", `ops.health: ${errorText(err)}`)];
  }
  const by = `answered by ${h.node_id ?? "?"}`;
  const reasons = h.problems?.length ? h.problems.join("; ") : JSON.stringify(h.queues);
  const out = [h.ok ? pass("health", `ops.health ok (${by}); ${healthSummary(h)}`) : fail("health", `ops.health not ok (${by}): ${reasons}`)];
  if (h.warnings?.length) out.push(fail("health_warnings", h.warnings.join("; "), false));
  else if (h.warnings) out.push(pass("health_warnings", "none", false));
  // Only warns: a deployment may page nobody on purpose, but it should know.
  if (h.receivers_off?.length) out.push(fail("receivers", h.receivers_off.join("; "), false));
  else if (h.receivers_off) out.push(pass("receivers", "every receiver is on", false));
  return out;
}

/** The node's ops.monitor.status answer (the node-specific subject when a node is named). */
export async function fetchStatus(t: Target): Promise<MonitorStatus> {
  const subject = t.node ? t.subjects.tools.monitorStatusOf(t.node) : t.subjects.tools.monitorStatus;
  return (await t.nc.request(subject, "", { timeout: t.timeoutMs })).json<MonitorStatus>();
}

export function statusChecks(s: MonitorStatus, expectedEnv: string | undefined): Check[] {
  const out: Check[] = [];
  out.push(s.online ? pass("monitor_status", `node ${s.node_id} online, heartbeat ${s.heartbeat_age_s}s ago`) : fail("monitor_status", `node ${s.node_id} reports online=false (heartbeat ${s.heartbeat_age_s}s ago)`));
  out.push(s.router?.ok ? pass("router", `JetStream answered in ${s.router.latency_ms} ms`) : fail("router", `JetStream: ${s.router?.error ?? "not ok"}`));
  if (expectedEnv) out.push(s.env === expectedEnv ? pass("env", `OPS_ENV=${s.env}`) : fail("env", `node runs OPS_ENV=${s.env}, expected ${expectedEnv}`));
  const strict = s.env === "staging" || s.env === "prod";
  const alerts = s.backends?.alerts ?? "unknown";
  if (!strict) out.push(pass("alerts_backend", `${alerts} (OPS_ENV=${s.env}: memory allowed)`, false));
  else out.push(/memory/i.test(alerts) ? fail("alerts_backend", `alert store is ${alerts}; OPS_ENV=${s.env} needs postgres (ALERT_BACKEND=postgres)`) : pass("alerts_backend", alerts));
  const memory = Object.entries(s.backends ?? {}).filter(([name, b]) => name !== "alerts" && /memory/i.test(b)).map(([name]) => name);
  if (strict && memory.length) out.push(fail("backends", `in memory on OPS_ENV=${s.env}: ${memory.join(", ")}`, false));
  return out;
}

/** In staging and prod a call without a bearer key must be refused `unauthenticated`. */
export async function authCheck(t: Target, env: string): Promise<Check> {
  if (env !== "staging" && env !== "prod") return skip("auth_enforced", `OPS_ENV=${env}: the body's agent_id is trusted (dev)`);
  try {
    const body = JSON.stringify({ action: "status", params: {} });
    const reply = (await t.nc.request(t.subjects.tools.of("monitor_tool"), body, { timeout: t.timeoutMs })).json<ToolReply>();
    if (!reply.ok && reply.error.code === "unauthenticated") return pass("auth_enforced", "a call without a key is refused (unauthenticated)");
    return fail("auth_enforced", `a call without a key got ${reply.ok ? "ok" : reply.error.code}; set OPSBUS_API_KEYS`);
  } catch (err) {
    return fail("auth_enforced", `monitor_tool: ${errorText(err)}`);
  }
}

/** Streams of this prefix and their durable consumers, as the server holds them (config only). */
export async function streamLayout(nc: NatsConnection, streamPrefix: string): Promise<Record<string, unknown>> {
  const jsm = await jetstreamManager(nc);
  const out: Record<string, unknown> = {};
  for (const si of await jsm.streams.list().next()) {
    const c = si.config;
    if (!c.name.startsWith(`${streamPrefix}_`)) continue;
    const consumers: Record<string, unknown> = {};
    for (const ci of await jsm.consumers.list(c.name).next()) {
      const k = ci.config;
      if (!k.durable_name) continue;
      consumers[k.durable_name] = { ack_wait: k.ack_wait, max_deliver: k.max_deliver, ack_policy: k.ack_policy, filter: k.filter_subjects ?? k.filter_subject, max_ack_pending: k.max_ack_pending };
    }
    out[c.name] = { subjects: c.subjects, retention: c.retention, max_age: c.max_age, duplicate_window: c.duplicate_window, replicas: c.num_replicas, consumers };
  }
  return out;
}

/** Version, config digest and backends of two nodes; stream layout of two NATS systems. */
export function parityChecks(a: MonitorStatus, b: MonitorStatus, layouts?: [Record<string, unknown>, Record<string, unknown>]): Check[] {
  const who = `${a.node_id} vs ${b.node_id}`;
  const same = (name: string, x: unknown, y: unknown, show = (v: unknown) => JSON.stringify(v)) =>
    canonicalJson(x) === canonicalJson(y) ? pass(name, `${who}: ${show(x)}`) : fail(name, `${who}: ${show(x)} ≠ ${show(y)}`);
  const out = [
    same("parity_version", a.version, b.version),
    same("parity_config", a.config_digest, b.config_digest),
    same("parity_backends", a.backends, b.backends),
  ];
  if (!layouts) out.push(skip("parity_streams", "both nodes use the same NATS system"));
  else {
    const [x, y] = layouts;
    const names = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
    const differ = names.filter((n) => canonicalJson(x[n]) !== canonicalJson(y[n]));
    out.push(differ.length ? fail("parity_streams", `stream/consumer config differs: ${differ.join(", ")}`) : pass("parity_streams", `${names.length} streams match`));
  }
  return out;
}
