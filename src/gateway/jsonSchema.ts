import { z } from "zod";
import type { ToolDef } from "../tools/types.js";

/** How one action is described to agents in `$SRV.INFO`. */
export interface ActionDescription {
  entitlement: string;
  description: string;
  /** JSON Schema (draft 2020-12) of the params the caller sends. */
  params: Record<string, unknown>;
}

/** JSON Schema of what a caller may send; an unrepresentable part becomes `{}` (any). */
export function paramsJsonSchema(schema: z.ZodType): Record<string, unknown> {
  try {
    return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function describeActions(tool: ToolDef): Record<string, ActionDescription> {
  const out: Record<string, ActionDescription> = {};
  for (const [name, action] of Object.entries(tool.actions)) {
    out[name] = { entitlement: action.entitlement, description: action.description, params: paramsJsonSchema(action.paramsDoc ?? action.params) };
  }
  return out;
}

/**
 * Endpoint metadata for the services API. Values must be strings, so `actions` carries the
 * JSON text of `{ <action>: { entitlement, description, params: <JSON Schema> } }`.
 */
export function endpointMetadata(tool: ToolDef): Record<string, string> {
  return { description: tool.description, actions: JSON.stringify(describeActions(tool)) };
}
