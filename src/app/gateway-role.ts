/** The gateway role: the tool API and everything a gateway process answers for besides it. */
import { startToolService } from "../gateway/index.js";
import { serveHealth } from "../observability/health.js";
import { VERSION } from "../version.js";
import type { RunningWorker } from "../workers/types.js";
import type { Ctx } from "./context.js";
import { startControlPlane } from "./control-plane.js";
import { holdGateway, workOf } from "./gateway.js";
import { startSilenceSweep } from "./silences.js";
import { startSuppressionRelease } from "./suppression.js";

/**
 * The tool API over NATS (services API), `ops.health`, the dead-alert watcher, and the control
 * plane: `subjects.tools.monitorStatus`, the nodes poller, the HTTP listener (HTTP_PORT).
 */
export async function startGateway(ctx: Ctx, roles: readonly string[]): Promise<RunningWorker> {
  const logger = ctx.logger.child({ worker: "gateway" });
  const work = workOf(ctx);
  // One set of gateway deps for every channel (NATS, HTTP) and the job runner: same auth, RBAC, limits, audit.
  const held = holdGateway(ctx, "gateway");
  const { gateway } = held;
  const registry = gateway.registry;
  const service = await startToolService({ ...gateway, nc: ctx.nc, subjects: ctx.subjects, version: VERSION }).catch(async (err: unknown) => {
    await held.release();
    throw err;
  });
  const stopHealth = serveHealth(ctx, [...roles]);
  const control = await startControlPlane(ctx, { roles: [...roles], gateway }).catch(async (err: unknown) => {
    stopHealth();
    await service.stop();
    await held.release();
    throw err;
  });
  const stopWatch = work.watchExhausted();
  const stopRelease = startSuppressionRelease(ctx);
  const stopSilenceSweep = startSilenceSweep(ctx);
  logger.info({ tools: [...registry.keys()] }, "gateway started");
  return {
    name: "gateway",
    async stop() {
      await control.stop();
      stopHealth();
      stopWatch();
      stopRelease();
      stopSilenceSweep();
      await service.stop();
      await held.release();
    },
  };
}

