/** `monitor_tool`: this node's status, as ops.monitor.status and GET /monitor/status answer it. */
import { z } from "zod";
import type { NodesStatusData } from "../observability/monitor/nodes.js";
import type { MonitorStatus } from "../observability/monitor/status.js";
import { action, type ToolDef } from "./types.js";

export interface MonitorToolDeps {
  status(): Promise<MonitorStatus>;
  /** The last poll of config/nodes_registry.yml's nodes; null before the first. */
  nodes(): Promise<(NodesStatusData & { polled_at: string }) | null>;
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
      nodes: action({
        entitlement: "tools.monitor.read",
        description: "Every node of config/nodes_registry.yml as the last poll found it (online, reason, latency_ms, heartbeat_age_s, alert-loop p95), with polled_at; polled null before the first poll.",
        params: z.strictObject({}),
        handler: async () => {
          const last = await deps.nodes();
          return last ? { polled_at: last.polled_at, online: last.online, offline: last.offline, nodes: last.nodes } : { polled_at: null, online: 0, offline: 0, nodes: [] };
        },
      }),
    },
  };
}
