import type { z } from "zod";
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
