/** A digest of the loaded policies, so two nodes can tell whether they run the same configuration. */
import { createHash } from "node:crypto";
import type { Policies } from "../../config/policies.js";

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * `sha256:<first 16 hex>` of every policy as loaded (defaults applied), except the nodes registry:
 * each node may legitimately see its peers at different addresses (NODES_* overrides).
 */
export function configDigest(policies: Policies): string {
  const { nodes: _nodes, ...shared } = policies;
  return `sha256:${createHash("sha256").update(canonicalJson(shared)).digest("hex").slice(0, 16)}`;
}
