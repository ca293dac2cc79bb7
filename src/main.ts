/** Runs opsbus roles in this process and drains them on SIGINT/SIGTERM. Wiring only. */
import type { Ctx } from "./context.js";
import { buildContext, type ContextOptions } from "./runtime.js";
import { startRole, type Role } from "./roles.js";
import type { RunningWorker } from "./workers/types.js";

export interface Running {
  ctx: Ctx;
  workers: RunningWorker[];
  stop(): Promise<void>;
}

export async function run(roles: readonly Role[], opts: ContextOptions = {}): Promise<Running> {
  const ctx = await buildContext(opts);
  const workers: RunningWorker[] = [];
  try {
    for (const role of roles) workers.push(await startRole(ctx, role, roles));
  } catch (err) {
    for (const w of workers.reverse()) await w.stop().catch(() => undefined);
    await ctx.close();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      // Consumers first, so in-flight messages are finished or nak'd while NATS is still up.
      for (const w of [...workers].reverse()) {
        await w.stop().catch((err) => ctx.logger.error({ err, worker: w.name }, "worker stop failed"));
      }
      await ctx.close();
      ctx.logger.info("stopped");
    })());
  return { ctx, workers, stop };
}

/**
 * Resolves once a SIGINT/SIGTERM has drained `running`. Ctrl-C under npm can deliver the signal
 * twice (npm and node both get it): a second signal must not cut the drain short and lose what is
 * in flight, so it is only logged. `signals` is the process, or a stand-in in tests.
 */
export function drainOnSignal(running: Pick<Running, "ctx" | "stop">, signals: NodeJS.EventEmitter = process): Promise<void> {
  return new Promise<void>((resolve) => {
    let draining = false;
    const onSignal = (sig: string) => {
      if (draining) return void running.ctx.logger.warn({ signal: sig }, "already draining; send SIGKILL to stop now");
      draining = true;
      running.ctx.logger.info({ signal: sig }, "draining");
      void running.stop().then(resolve);
    };
    signals.on("SIGINT", () => onSignal("SIGINT"));
    signals.on("SIGTERM", () => onSignal("SIGTERM"));
  });
}

/** For the CLI: run until a signal, then drain and exit. */
export async function runUntilSignal(roles: readonly Role[], opts: ContextOptions = {}): Promise<void> {
  const running = await run(roles, opts);
  running.ctx.logger.info({ roles }, "opsbus running; Ctrl-C to stop");
  await drainOnSignal(running);
}
