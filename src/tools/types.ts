import { z } from "zod";
import type { Logger } from "../log.js";

/** Who is calling, as established by the gateway's auth step. */
export interface Caller {
  agent_id: string;
  role: string;
  entitlements: ReadonlySet<string>;
  /** True when a bearer key identified the caller (always in staging and prod). */
  authenticated: boolean;
  /** `nats`, `http`, `scheduler`, … */
  channel: string;
}

export interface ToolHelpers {
  caller: Caller;
  logger: Logger;
  /** Aborted when the tool's timeout passes; long work should check it. */
  signal: AbortSignal;
  now(): Date;
}

export interface ActionDef<P extends z.ZodType = z.ZodType> {
  /** Checked against the caller's role before the handler runs, e.g. `tools.alerts.read`. */
  entitlement: string;
  description: string;
  /**
   * Every field `.describe()`d (what it is, unit, default), and a field checked against a set of
   * values carries it as an enum: test/unit/tool-schemas.test.ts fails otherwise.
   */
  params: P;
  /** For discovery only, when `params` is deliberately looser (e.g. ingest answers accepted=false itself). */
  paramsDoc?: z.ZodType;
  handler(params: z.infer<P>, helpers: ToolHelpers): Promise<unknown>;
}

export interface ToolDef {
  name: string;
  description: string;
  actions: Record<string, ActionDef>;
}

/** Keeps each action's handler typed by its own params schema. */
export function action<P extends z.ZodType>(def: ActionDef<P>): ActionDef {
  return def as unknown as ActionDef;
}

export type ToolRegistry = ReadonlyMap<string, ToolDef>;

export function toolRegistry(tools: ToolDef[]): ToolRegistry {
  return new Map(tools.map((t) => [t.name, t]));
}

/**
 * A filter over a fixed set: `["a","b"]`, `"a"` or `"a,b"` (agents send all three), parsed to a
 * list of checked values. The comma form is published as a single enum value, so the schema
 * agents read names the set; the server still accepts the comma-separated string.
 */
export function enumList<const T extends readonly [string, ...string[]]>(values: T) {
  const item = z.enum(values);
  const commaSeparated = z
    .string()
    .transform((s) => s.split(",").map((x) => x.trim()))
    .meta({ enum: [...values] });
  return z.union([z.array(item), commaSeparated]).pipe(z.array(item));
}

/** A retention period in whole days, as every cleanup action takes it (1 day to 10 years). */
export const RetentionDays = z.number().int().min(1).max(3650);
