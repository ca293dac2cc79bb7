/** Runs opsbus roles in this process and drains them on SIGINT/SIGTERM/SIGHUP. Wiring only. */
import type { Ctx } from "./app/context.js";
import { buildContext, type ContextOptions } from "./app/runtime.js";
import { startObservability } from "./app/observability.js";
import { startRole, type Role } from "./app/roles.js";
import { watchLauncher } from "./util/parent-watch.js";
import type { RunningWorker } from "./workers/types.js";

export interface Running {
  ctx: Ctx;
  workers: RunningWorker[];
  stop(): Promise<void>;
  /** What a stop has not finished yet: worker names, then `connections and stores`. */
  unfinished(): string[];
  /** For a drain out of time: naks at once every delivery the workers' loops still hold; how many. */
  abandon(): number;
}

/** Signals that drain; SIGHUP too (a closed terminal, a supervisor's stop), which would otherwise kill mid-batch. */
export const DRAIN_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** Emitted on the signal emitter when the process that launched us is gone (see util/parent-watch). */
export const LAUNCHER_GONE = "opsbus:launcher-gone";
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export async function run(roles: readonly Role[], opts: ContextOptions = {}): Promise<Running> {
  const ctx = await buildContext(opts);
  const workers: RunningWorker[] = [];
  try {
    // First, so every role finds ctx.health; stopped last, so /metrics and /healthz answer during the drain.
    workers.push(await startObservability(ctx, roles));
    for (const role of roles) workers.push(await startRole(ctx, role, roles));
  } catch (err) {
    for (const w of workers.reverse()) await w.stop().catch(() => undefined);
    await ctx.close();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  const unfinished = new Set<string>();
  const stop = () =>
    (stopping ??= (async () => {
      const order = [...workers].reverse();
      for (const w of order) unfinished.add(w.name);
      unfinished.add("connections and stores");
      // Consumers first, so in-flight messages are finished or nak'd while NATS is still up.
      for (const w of order) {
        await w.stop().catch((err) => ctx.logger.error({ err, worker: w.name }, "worker stop failed"));
        unfinished.delete(w.name);
      }
      await ctx.close();
      unfinished.clear();
      ctx.logger.info("stopped");
    })());
  const abandon = () => workers.reduce((n, w) => n + (w.abandon?.() ?? 0), 0);
  return { ctx, workers, stop, unfinished: () => [...unfinished], abandon };
}

/**
 * Resolves with the exit code once a signal (or the launcher's exit) has drained `running`: 0
 * when the drain finished, 1 when it failed or outlasted `timeoutMs` (DRAIN_TIMEOUT_MS). At that
 * deadline the deliveries still held are nak'd at once (`abandon`), so JetStream redelivers them
 * to a live worker now rather than after ack_wait, and what was abandoned is logged.
 * Ctrl-C under npm can deliver the signal twice (npm and node both get it): a second signal must
 * not cut the drain short and lose what is in flight, so it is only logged. `signals` is the
 * process, or a stand-in in tests.
 */
export function drainOnSignal(
  running: Pick<Running, "ctx" | "stop"> & Partial<Pick<Running, "unfinished" | "abandon">>,
  signals: NodeJS.EventEmitter = process,
  opts: { timeoutMs?: number } = {},
): Promise<number> {
  const logger = running.ctx.logger;
  const timeoutMs = opts.timeoutMs ?? running.ctx.env?.DRAIN_TIMEOUT_MS ?? DEFAULT_DRAIN_TIMEOUT_MS;
  return new Promise<number>((resolve) => {
    let draining = false;
    const onSignal = (sig: string) => {
      if (draining) return void logger.warn({ signal: sig }, "already draining; send SIGKILL to stop now");
      draining = true;
      logger.info({ signal: sig, timeout_ms: timeoutMs }, "draining");
      // Not unref'd: a drain stuck on a promise that never settles must still end here, not exit 0 on an empty loop.
      const deadline = setTimeout(() => {
        const abandoned = running.unfinished?.() ?? [];
        let naked = 0;
        try {
          naked = running.abandon?.() ?? 0;
        } catch (err) {
          logger.error({ err }, "nak of the held deliveries failed; JetStream redelivers them after ack_wait");
        }
        logger.error({ timeout_ms: timeoutMs, abandoned, naked }, `drain did not finish within ${timeoutMs} ms; exiting with ${abandoned.join(", ") || "its work"} unfinished (${naked} held deliveries nak'd for redelivery now)`);
        resolve(1);
      }, timeoutMs);
      running.stop().then(
        () => (clearTimeout(deadline), resolve(0)),
        (err: unknown) => (clearTimeout(deadline), logger.error({ err }, "drain failed"), resolve(1)),
      );
    };
    for (const sig of DRAIN_SIGNALS) signals.on(sig, () => onSignal(sig));
    signals.on(LAUNCHER_GONE, (why: string) => onSignal(`launcher gone: ${why}`));
  });
}

/** For the CLI: run until a signal (or, under npm, until npm is gone), then drain; the exit code. */
export async function runUntilSignal(roles: readonly Role[], opts: ContextOptions = {}): Promise<number> {
  const running = await run(roles, opts);
  running.ctx.logger.info({ roles }, "opsbus running; Ctrl-C to stop");
  const stopWatching = watchLauncher((why) => void (process as NodeJS.EventEmitter).emit(LAUNCHER_GONE, why));
  const code = await drainOnSignal(running);
  stopWatching();
  return code;
}
