/**
 * A process's health: the durable consumers it answers for (every one with the gateway role, the
 * system's view; a worker-only process its own roles'), each judged missing / stalled / ok (see
 * `metrics/consumer-health.ts`), and its audit writers. Served on `ops.health` (gateway),
 * `/healthz` (503 when not ok) and read by `opsbus verify`. Stores holding too many records in
 * memory are `warnings` (see `store-memory.ts`): worth saying, not a reason for `ok: false`.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { JSONL_WARN_RECORDS_DEFAULT, type RuntimeEnv } from "../config/env.js";
import type { Policies } from "../config/policies.js";
import { routesUseAlertGroups } from "../config/notification-routes.js";
import type { Logger } from "../log.js";
import type { Subjects } from "../subjects/index.js";
import { AuditWatch, type AuditStatsSource, type AuditVerdict } from "./metrics/audit-health.js";
import { judge, looksMissing, StallTracker, type ConsumerSample, type ConsumerState } from "./metrics/consumer-health.js";
import { consumerConfigs } from "../nats/provision.js";
import { StoreMemoryWatch, type StoreViews } from "./store-memory.js";
import { LiveCopyWatch } from "./live-copy-health.js";
import type { SilenceStore } from "../silences/store.js";
import { VERSION } from "../version.js";

export interface QueueDepth extends ConsumerSample {
  /** pending + ack_pending: messages not yet settled. */
  depth: number;
  state: ConsumerState;
  stuck_s: number;
  reason?: string;
}

export interface HealthReport {
  ok: boolean;
  node_id: string;
  env: string;
  version: string;
  nats: { server_version: string };
  roles: string[];
  backends: { alerts: string; audit: string };
  queues: QueueDepth[] | { error: string };
  audit: AuditVerdict[];
  /** Why `ok` is false, one line per consumer or writer; empty when ok. */
  problems: string[];
  /** What works but will not for long, e.g. a JSONL store past JSONL_WARN_RECORDS; `ok` ignores them. */
  warnings: string[];
  /** Receivers that are off (their URL, key or password is not set), one line each: nobody routed to them is notified. */
  receivers_off?: string[];
  ts: string;
}

/** A worker between two pulls looks missing for a moment; this long later it has pulled again. */
const CONFIRM_MS = 400;
/** The background sample interval is a quarter of the stall window, within these bounds. */
const SAMPLE_MIN_MS = 250;
const SAMPLE_MAX_MS = 15_000;
/** How often `watchStores` counts the stores' records (a few Map sizes). */
const STORE_CHECK_MS = 10_000;

/**
 * What health reads of the process context (`Ctx` satisfies it). Spelled out here rather than
 * imported, because `Ctx` holds this process's `ProcessHealth`: naming `Ctx` would be a cycle.
 */
export interface HealthDeps {
  env: Pick<RuntimeEnv, "NODE_ID" | "OPS_ENV" | "HEALTH_STALL_SECONDS"> & Partial<Pick<RuntimeEnv, "JSONL_WARN_RECORDS">>;
  policies: Pick<Policies, "alertRouting" | "notificationRoutes">;
  subjects: Subjects;
  logger: Logger;
  nc: NatsConnection;
  jsm: JetStreamManager;
  features: { version: string };
  stores: StoreViews;
  /** The process's silences, whose live copy must follow the bucket. */
  silences?: Pick<SilenceStore, "liveCopy">;
  now(): Date;
  /** This process's health, when one is kept; otherwise a one-off one answers. */
  health?: ProcessHealth;
}

interface Watched {
  stream: string;
  consumer: string;
  role: string;
}

/** Every durable consumer with the role whose workers pull from it. */
export function consumerRoles(ctx: Pick<HealthDeps, "subjects" | "policies">): Watched[] {
  const s = ctx.subjects;
  const roleOf: Record<string, string> = {
    [s.alerts.ingestConsumer]: "alerts-in",
    [s.alerts.workConsumer]: "incident-bridge",
    [s.graphs.consumer]: "graph-runs",
    [s.jobs.consumer]: "jobs",
    [s.notify.consumer]: "notifier",
    [s.notify.plannerConsumer]: "notifier",
    [s.notify.groupsConsumer]: "notifier",
  };
  return consumerConfigs(s, ctx.policies.alertRouting, { alertGroups: routesUseAlertGroups(ctx.policies.notificationRoutes) }).map(({ stream, config }) => {
    const consumer = config.durable_name as string;
    return { stream, consumer, role: roleOf[consumer] ?? consumer };
  });
}

/** The gateway answers for every consumer; a worker-only process for its own roles' consumers. */
export function watchedConsumers(ctx: Pick<HealthDeps, "subjects" | "policies">, roles: readonly string[]): Watched[] {
  const all = consumerRoles(ctx);
  return roles.includes("gateway") ? all : all.filter((c) => roles.includes(c.role));
}

async function readSample(ctx: HealthDeps, c: Watched): Promise<ConsumerSample> {
  const info = await ctx.jsm.consumers.info(c.stream, c.consumer);
  return {
    ...c,
    pending: info.num_pending,
    ack_pending: info.num_ack_pending,
    redelivered: info.num_redelivered,
    waiting: info.num_waiting,
    push_bound: info.push_bound === true,
    ack_floor: info.ack_floor.stream_seq,
    delivered: info.delivered.stream_seq,
  };
}

export interface HealthOptions {
  /** HEALTH_STALL_SECONDS in ms. */
  stallMs: number;
  confirmMs?: number;
}

export class ProcessHealth {
  readonly watched: Watched[];
  private readonly tracker = new StallTracker();
  private readonly audits = new Map<string, AuditWatch>();
  private readonly stallMs: number;
  private readonly confirmMs: number;
  private reading: Promise<QueueDepth[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private storeTimer: NodeJS.Timeout | undefined;
  private readonly storeMemory: StoreMemoryWatch;
  private readonly silenceCopy: LiveCopyWatch | undefined;
  /** Set by the composition root where notifications are configured (gateway, notifier). */
  receiversOff: (() => string[]) | undefined;

  constructor(
    private readonly ctx: HealthDeps,
    readonly roles: readonly string[],
    opts: HealthOptions,
  ) {
    this.watched = watchedConsumers(ctx, roles);
    this.stallMs = opts.stallMs;
    this.confirmMs = opts.confirmMs ?? CONFIRM_MS;
    const liveCopy = ctx.silences?.liveCopy?.bind(ctx.silences);
    this.silenceCopy = liveCopy ? new LiveCopyWatch("silences", liveCopy) : undefined;
    this.storeMemory = new StoreMemoryWatch(ctx.stores, ctx.env.JSONL_WARN_RECORDS ?? JSONL_WARN_RECORDS_DEFAULT, ctx.logger.child({ component: "health" }));
  }

  /** Counts an audit writer in; writers without `stats()` (older builds) are left out. */
  watchAudit(writer: string, source: Partial<AuditStatsSource>): () => void {
    if (typeof source.stats !== "function") return () => undefined;
    this.audits.set(writer, new AuditWatch(writer, source as AuditStatsSource));
    return () => void this.audits.delete(writer);
  }

  /** The watched consumers, judged now (concurrent callers share one read). */
  queues(): Promise<QueueDepth[]> {
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  audit(): AuditVerdict[] {
    const now = this.ctx.now().getTime();
    return [...this.audits.values()].map((w) => w.observe(now, this.stallMs));
  }

  async report(): Promise<HealthReport> {
    const { ctx } = this;
    let queues: QueueDepth[] | { error: string };
    try {
      queues = await this.queues();
    } catch (err) {
      queues = { error: (err as Error).message };
    }
    const audit = this.audit();
    const silences = await this.silenceCopy?.problem(ctx.now().getTime());
    const problems = [
      ...("error" in queues ? [`consumers: ${queues.error}`] : queues.flatMap((q) => (q.reason ? [q.reason] : []))),
      ...audit.flatMap((a) => (a.problem ? [a.problem] : [])),
      ...(silences ? [silences] : []),
    ];
    return {
      ok: problems.length === 0,
      node_id: ctx.env.NODE_ID,
      env: ctx.env.OPS_ENV,
      version: VERSION,
      nats: { server_version: ctx.features.version },
      roles: [...this.roles],
      backends: { alerts: ctx.stores.alerts.backendName, audit: ctx.stores.audit.backendName },
      queues,
      audit,
      problems,
      warnings: this.storeMemory.check(),
      ...(this.receiversOff ? { receivers_off: this.receiversOff() } : {}),
      ts: ctx.now().toISOString(),
    };
  }

  /** Samples in the background, so a stall shows on the first question asked after it began. */
  start(): void {
    if (this.timer) return;
    const every = Math.min(SAMPLE_MAX_MS, Math.max(SAMPLE_MIN_MS, Math.floor(this.stallMs / 4)));
    const log = this.ctx.logger.child({ component: "health" });
    this.timer = setInterval(() => {
      if (this.reading) return;
      this.audit();
      // Keeps the lag's start current, so the first question after the grace hears of it.
      this.silenceCopy?.problem(this.ctx.now().getTime()).catch(() => undefined);
      this.queues().catch((err: unknown) => log.debug({ err }, "health sample failed"));
    }, every);
    this.timer.unref();
  }

  /** Counts the stores' records in the background, so crossing JSONL_WARN_RECORDS is logged when it happens. */
  watchStores(everyMs = STORE_CHECK_MS): void {
    if (this.storeTimer) return;
    this.storeMemory.check();
    this.storeTimer = setInterval(() => this.storeMemory.check(), everyMs);
    this.storeTimer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.storeTimer) clearInterval(this.storeTimer);
    this.timer = undefined;
    this.storeTimer = undefined;
  }

  private async read(): Promise<QueueDepth[]> {
    const samples = await Promise.all(this.watched.map((c) => readSample(this.ctx, c)));
    const missing = new Set<number>();
    const suspects = samples.flatMap((s, i) => (looksMissing(s) ? [i] : []));
    if (suspects.length) {
      await new Promise((r) => setTimeout(r, this.confirmMs));
      for (const i of suspects) {
        const again = await readSample(this.ctx, this.watched[i]!);
        if (looksMissing(again) && again.delivered === samples[i]!.delivered) missing.add(i);
        samples[i] = again;
      }
    }
    const now = this.ctx.now().getTime();
    return samples.map((s, i) => {
      const verdict = judge(s, { missing: missing.has(i), stuckMs: this.tracker.observe(s, now), stallMs: this.stallMs });
      return { ...s, depth: s.pending + s.ack_pending, ...verdict };
    });
  }
}

/** The process's health (`ctx.health`), or a one-off one for a context built by hand (no stall history). */
function healthOf(ctx: HealthDeps, roles: readonly string[]): ProcessHealth {
  return ctx.health ?? new ProcessHealth(ctx, roles, { stallMs: ctx.env.HEALTH_STALL_SECONDS * 1000 });
}

/** Queue depth of every consumer (the gateway's view). */
export async function queueDepths(ctx: HealthDeps): Promise<QueueDepth[]> {
  return healthOf(ctx, ["gateway"]).queues();
}

export async function healthReport(ctx: HealthDeps, roles: string[]): Promise<HealthReport> {
  return healthOf(ctx, roles).report();
}

/** `ops.health`: request-reply, answered by every gateway process in a queue group. */
export function serveHealth(ctx: HealthDeps, roles: string[]): () => void {
  const sub = ctx.nc.subscribe(ctx.subjects.tools.health, {
    queue: "opsbus-health",
    callback: (err, m) => {
      if (err) return;
      void healthReport(ctx, roles)
        .then((r) => m.respond(JSON.stringify(r)))
        .catch((e: unknown) => m.respond(JSON.stringify({ ok: false, node_id: ctx.env.NODE_ID, problems: [`health: ${(e as Error).message}`] })));
    },
  });
  return () => sub.unsubscribe();
}
