/**
 * `config/nodes_registry.yml`: the nodes the gateway polls for status. A node is asked over NATS
 * (`subjects.tools.monitorStatusOf(node_id)`, on this process's connection or on `nats_url`) unless it has a
 * `status_url`, which is fetched over HTTP (`GET .../monitor/status`).
 *
 * Environment overrides, applied when the file is loaded: `NODES_<NODE>_<FIELD>` with NODE the key
 * upper-cased (`-` → `_`) and FIELD one of LABEL, NODE_ID, NATS_URL, STATUS_URL, TIMEOUT_MS, e.g.
 * `NODES_NODE2_STATUS_URL=http://10.0.0.5:9300/monitor/status`. An empty value removes the field.
 */
import { z } from "zod";

export const NODE_OVERRIDE_FIELDS = ["label", "node_id", "nats_url", "status_url", "timeout_ms"] as const;
type OverrideField = (typeof NODE_OVERRIDE_FIELDS)[number];

export const BOUNDS_NODES = { minTimeoutMs: 100, maxTimeoutMs: 60_000 } as const;

export const NodeEntry = z.strictObject({
  label: z.string().min(1).optional(),
  /** The node's NODE_ID, as it answers on subjects.tools.monitorStatusOf(node_id); default: the key. */
  node_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - (a NODE_ID)").optional(),
  /** Another NATS system (e.g. another cluster); default: the poller's own connection. */
  nats_url: z.string().regex(/^(nats|tls|ws|wss):\/\/\S+$/, "a NATS URL such as nats://10.0.0.5:4222").optional(),
  /** Polled over HTTP instead of NATS: the node's `GET /monitor/status`. */
  status_url: z.string().regex(/^https?:\/\/\S+$/, "an http(s) URL such as http://10.0.0.5:9300/monitor/status").optional(),
  timeout_ms: z.number().int().min(BOUNDS_NODES.minTimeoutMs).max(BOUNDS_NODES.maxTimeoutMs).default(3000),
});
export type NodeEntry = z.infer<typeof NodeEntry>;

const NodeKey = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a node key such as NODE1");

/** The env var that overrides `field` of node `key`. */
export function nodeEnvVar(key: string, field: OverrideField): string {
  return `NODES_${key.toUpperCase().replace(/-/g, "_")}_${field.toUpperCase()}`;
}

/** The entry with its `NODES_<NODE>_<FIELD>` overrides; issues name the env var and the bad value. */
export function overrideNode(key: string, entry: NodeEntry, source: NodeJS.ProcessEnv): { entry?: NodeEntry; issues: string[] } {
  const raw: Record<string, unknown> = { ...entry };
  const given: Record<string, string> = {};
  const used: string[] = [];
  for (const field of NODE_OVERRIDE_FIELDS) {
    const value = source[nodeEnvVar(key, field)];
    if (value === undefined) continue;
    used.push(nodeEnvVar(key, field));
    given[field] = value;
    if (value === "") delete raw[field];
    else raw[field] = field === "timeout_ms" ? Number(value) : value;
  }
  if (!used.length) return { entry, issues: [] };
  const parsed = NodeEntry.safeParse(raw);
  if (parsed.success) return { entry: parsed.data, issues: [] };
  return {
    issues: parsed.error.issues.map((i) => {
      const field = String(i.path[0] ?? "");
      const envVar = (NODE_OVERRIDE_FIELDS as readonly string[]).includes(field) ? nodeEnvVar(key, field as OverrideField) : used.join(", ");
      return `${envVar}: got ${JSON.stringify(given[field] ?? raw[field])}; ${i.message}`;
    }),
  };
}

export const NodesRegistry = z
  .strictObject({
    nodes: z.record(NodeKey, NodeEntry).default({}),
  })
  .transform((reg, ctx) => {
    const nodes: Record<string, NodeEntry> = {};
    for (const [key, entry] of Object.entries(reg.nodes)) {
      const out = overrideNode(key, entry, process.env);
      for (const message of out.issues) ctx.issues.push({ code: "custom", message, input: entry, path: ["nodes", key] });
      if (out.entry) nodes[key] = out.entry;
    }
    return { nodes };
  });
export type NodesRegistry = z.infer<typeof NodesRegistry>;

/** A registry entry as the poller uses it. */
export interface NodeTarget extends NodeEntry {
  key: string;
  node_id: string;
  label: string;
}

export function nodeTargets(reg: NodesRegistry): NodeTarget[] {
  return Object.entries(reg.nodes).map(([key, e]) => ({ ...e, key, node_id: e.node_id ?? key, label: e.label ?? key }));
}
