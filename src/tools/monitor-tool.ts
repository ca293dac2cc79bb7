/** `monitor_tool`: this node's status, as ops.monitor.status and GET /monitor/status answer it. */
import { z } from "zod";
import type { MonitorStatus } from "../observability/monitor/status.js";
import { action, type ToolDef } from "./types.js";

export interface MonitorToolDeps {
  status(): Promise<MonitorStatus>;
}

export function createMonitorTool(deps: MonitorToolDeps): ToolDef {
  return {
    name: "monitor_tool",
    description: "Node status for the control plane: heartbeat, router/gateway round trips, alert-loop p95 and failed rate, open incidents, store backends, last artifacts.",
    actions: {
      status: action({
        entitlement: "tools.monitor.read",
        description: "This node's status (online, heartbeat_age_s, router, gateway, alerts_loop_slo, open_incidents, backends, last_artifacts, config_digest).",
        params: z.strictObject({}),
        handler: () => deps.status(),
      }),
    },
  };
}
