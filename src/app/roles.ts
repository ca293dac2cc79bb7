/** The parts of opsbus a process can run: all of them (`start`) or one (`worker <name>`). */
import type { Ctx } from "./context.js";
import type { RunningWorker } from "../workers/types.js";

export const ROLES = ["gateway", "alerts-in", "incident-bridge", "graph-runs", "scheduler", "jobs", "notifier"] as const;
export type Role = (typeof ROLES)[number];

/** Former role names, still accepted by `opsbus worker` with a deprecation warning. */
export const DEPRECATED_ROLES: Readonly<Record<string, Role>> = { triage: "incident-bridge" };

/** The role a name on the command line means (a deprecated name gives its successor), or undefined. */
export function resolveRole(name: string): { role: Role; deprecated?: string } | undefined {
  if ((ROLES as readonly string[]).includes(name)) return { role: name as Role };
  const role = Object.hasOwn(DEPRECATED_ROLES, name) ? DEPRECATED_ROLES[name] : undefined;
  return role ? { role, deprecated: name } : undefined;
}

/**
 * Each role's code is loaded when the role starts, so a process carries only its own: an ingest
 * worker does not hold the HTTP surface, the console's renderer or the mail client in memory.
 */
export async function startRole(ctx: Ctx, role: Role, all: readonly string[]): Promise<RunningWorker> {
  switch (role) {
    case "gateway":
      return (await import("./gateway-role.js")).startGateway(ctx, all);
    case "alerts-in": {
      const { startAlertsIn, yieldToIntake } = await import("./alerts-in.js");
      return startAlertsIn(ctx, all.length === 1 ? () => yieldToIntake(ctx) : undefined);
    }
    case "incident-bridge":
      return (await import("./incidents.js")).startIncidentBridge(ctx);
    case "graph-runs":
      return (await import("./incidents.js")).startGraphRuns(ctx);
    case "scheduler":
      return (await import("./jobs.js")).startScheduler(ctx);
    case "jobs":
      return (await import("./jobs.js")).startJobs(ctx);
    case "notifier":
      return (await import("./notify.js")).startNotifier(ctx);
  }
}
