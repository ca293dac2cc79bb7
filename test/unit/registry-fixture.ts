/** The real tool registry, built from the shipped config over inert handles (nothing is called). */
import { loadEnv } from "../../src/config/env.js";
import type { Ctx } from "../../src/app/context.js";
import { createLogger } from "../../src/log.js";
import { subjects } from "../../src/subjects/index.js";
import { buildToolRegistry } from "../../src/app/tools.js";
import type { ToolRegistry } from "../../src/tools/types.js";
import { loadShippedPolicies } from "./gateway-fixtures.js";

export const shippedPolicies = loadShippedPolicies();

export function shippedRegistry(): ToolRegistry {
  // Building the registry only wires objects, so every connection and store may be inert.
  const inert = new Proxy({}, { get: () => undefined }) as never;
  const logger = createLogger({ level: "silent" });
  const ctx: Ctx = {
    env: loadEnv({ DATA_DIR: "/nonexistent/opsbus-registry-fixture" }),
    policies: shippedPolicies,
    subjects: subjects(),
    logger,
    nc: inert,
    js: inert,
    jsm: inert,
    features: { version: "2.10.0", termReason: true, multiFilter: true },
    stores: { alerts: inert, audit: inert, incidents: inert, backlog: inert, jobs: inert, risk: inert },
    silences: inert,
    sentLog: inert,
    now: () => new Date("2026-03-02T10:00:00Z"),
  };
  return buildToolRegistry(ctx, { logger });
}
