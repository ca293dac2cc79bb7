/**
 * What a process builds once and every role shares, memoised per Ctx so `opsbus start` (every
 * role in one process) builds each piece once; each is built on first use, so a worker-only
 * process builds only its own. Here: the event publisher and the task registry (TASK_REGISTRY,
 * read once); app/gateway.ts adds the alert work queue, the tool registry and the gateway core.
 */
import { loadTaskRegistry, type TaskRegistry } from "../config/jobs-policy.js";
import { EventPublisher } from "../nats/events.js";
import type { Ctx } from "./context.js";

export interface AppDeps {
  events: EventPublisher;
  tasks(): TaskRegistry;
}

const built = new WeakMap<Ctx, Map<string, unknown>>();

/** `make()` once per Ctx and key. */
export function perProcess<T>(ctx: Ctx, key: string, make: () => T): T {
  let parts = built.get(ctx);
  if (!parts) built.set(ctx, (parts = new Map()));
  if (!parts.has(key)) parts.set(key, make());
  return parts.get(key) as T;
}

export function appDeps(ctx: Ctx): AppDeps {
  return perProcess(ctx, "app", () => {
    let tasks: TaskRegistry | undefined;
    return {
      events: new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now),
      tasks: () => (tasks ??= loadTaskRegistry(ctx.env.TASK_REGISTRY)),
    };
  });
}
