import { z } from "zod";
import type { ToolDef } from "../tools/types.js";

/** JSON Schema (draft 2020-12) of an action's params: the parts clients read, the rest as is. */
export interface ParamsSchema {
  type?: string;
  properties?: Record<string, unknown>;
  required?: string[];
  [keyword: string]: unknown;
}

/** How one action is described to agents in `$SRV.INFO`. */
export interface ActionDescription {
  entitlement: string;
  description: string;
  params: ParamsSchema;
}

type Json = Record<string, unknown>;

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
    out[name] = { entitlement: action.entitlement, description: action.description, params: paramsJsonSchema(action.paramsDoc ?? action.params) as ParamsSchema };
  }
  return out;
}

/** The metadata key of one fact about an action: `<action>.<fact>`; action names have no dot. */
export const actionKey = (action: string, fact: "description" | "entitlement" | "params") => `${action}.${fact}`;
/** `<action>.param.<name>`: one line of plain text per parameter. */
export const paramKey = (action: string, param: string) => `${action}.param.${param}`;

/**
 * Endpoint metadata for the services API. Its values must be strings (ADR-32; the SCHEMA verb was
 * dropped in favour of endpoint metadata), so each fact is its own key with a plain value that
 * `nats micro info` shows and an agent reads as is, instead of one JSON document inside a string:
 *
 * - `description`: the tool; `actions`: its action names, comma-separated
 * - `<action>.description`, `<action>.entitlement`
 * - `<action>.param.<name>`: type, allowed values, required or default, and what it is
 * - `<action>.params`: the params' JSON Schema, for a client that validates (the one JSON value)
 */
export function endpointMetadata(tool: ToolDef): Record<string, string> {
  const described = describeActions(tool);
  const out: Record<string, string> = { description: tool.description, actions: Object.keys(described).join(",") };
  for (const [name, d] of Object.entries(described)) {
    out[actionKey(name, "description")] = d.description;
    out[actionKey(name, "entitlement")] = d.entitlement;
    out[actionKey(name, "params")] = JSON.stringify(d.params);
    const required = new Set(d.params.required ?? []);
    for (const [param, schema] of Object.entries((d.params.properties ?? {}) as Record<string, Json>)) {
      out[paramKey(name, param)] = paramLine(schema, required.has(param));
    }
  }
  return out;
}

/** The actions as `endpointMetadata` published them, for a client reading `$SRV.INFO`. */
export function actionsFromMetadata(metadata: Record<string, string> | undefined): Record<string, ActionDescription> {
  const out: Record<string, ActionDescription> = {};
  if (!metadata?.actions) return out;
  for (const name of metadata.actions.split(",")) {
    out[name] = {
      entitlement: metadata[actionKey(name, "entitlement")] ?? "",
      description: metadata[actionKey(name, "description")] ?? "",
      params: JSON.parse(metadata[actionKey(name, "params")] ?? "{}") as ParamsSchema,
    };
  }
  return out;
}

/** e.g. `one of P0|P1|P2|P3; default "P2" — P0 (most urgent) to P3 …` */
export function paramLine(schema: Json, required: boolean): string {
  const presence = required ? "required" : schema.default !== undefined ? `default ${JSON.stringify(schema.default)}` : "optional";
  const description = typeof schema.description === "string" ? ` — ${schema.description}` : "";
  return `${typeText(schema)}; ${presence}${description}`;
}

function typeText(s: Json): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.join("|")}`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  const branches = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (branches) {
    const texts = [...new Set(branches.map(typeText))];
    const [a, b] = texts;
    if (texts.length === 2 && (a === `list of ${b}` || b === `list of ${a}`)) return `${a === `list of ${b}` ? b : a}, or a list of them`;
    return texts.join(" or ");
  }
  switch (s.type) {
    case "array":
      return `list of ${s.items ? typeText(s.items as Json) : "any"}`;
    case "integer":
    case "number": {
      // zod publishes ±MAX_SAFE_INTEGER for an int without a bound: no bound worth saying.
      const bound = (n: unknown) => (typeof n === "number" && Math.abs(n) < Number.MAX_SAFE_INTEGER ? String(n) : "");
      const [min, max] = [bound(s.minimum), bound(s.maximum)];
      const range = min && max ? ` ${min}–${max}` : min ? ` ≥ ${min}` : max ? ` ≤ ${max}` : "";
      return `${s.type}${range}`;
    }
    case "string":
      if (s.format === "date-time") return "ISO 8601 date-time";
      return s.pattern ? `string matching ${String(s.pattern)}` : "string";
    case undefined:
      return "any";
    default:
      return String(s.type);
  }
}
