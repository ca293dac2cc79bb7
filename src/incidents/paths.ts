import { join } from "node:path";
import type { RuntimeEnv } from "../config/env.js";

/** Where incident artifacts and reports are written (env overrides, else under DATA_DIR). */
export function incidentPaths(env: Pick<RuntimeEnv, "DATA_DIR" | "INCIDENT_ARTIFACTS_DIR" | "REPORTS_DIR">) {
  return {
    artifactsDir: env.INCIDENT_ARTIFACTS_DIR ?? join(env.DATA_DIR, "incidents"),
    reportsDir: env.REPORTS_DIR ?? join(env.DATA_DIR, "reports"),
  };
}
