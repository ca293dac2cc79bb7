/**
 * The reference runbooks' HTTP shortcuts, each a fixed tool action behind the same gateway core as
 * `/v1/tools/execute` (auth, RBAC, limits, audit; channel `http`) and answering its envelope and
 * status. Query parameters become the action's params (numbers and booleans read by the params
 * schema); `agent_id` in the query or body is the claimed agent, as in the envelope. The table is
 * also what /openapi.json describes.
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { paramsJsonSchema } from "../gateway/jsonSchema.js";
import type { GatewayDeps } from "../gateway/types.js";
import { routeOnly } from "./edge.js";
import { acceptCurlBodies, answer, auditOversizeBodies, bodyBound, httpCall, MISSING_TOOL, parsedBody } from "./tools.js";

type JsonObject = Record<string, unknown>;

export interface RunbookRoute {
  method: "GET" | "POST";
  /** fastify syntax: `:name` is a path parameter. */
  url: string;
  tool: string;
  action: string;
  summary: string;
  /** Params the route sets itself; the request cannot override them. */
  fixed?: JsonObject;
  /** Path parameter → param name. */
  pathParams?: Record<string, string>;
  /** The body member whose members are params (`input` of a graph run); else the body's own members. */
  bodyParams?: string;
}

export const RUNBOOK_ROUTES: readonly RunbookRoute[] = [
  { method: "GET", url: "/v1/alerts/dashboard", tool: "alert_ingest_tool", action: "dashboard", summary: "Alert counts by status, top signatures and the latest alerts in the window" },
  {
    method: "GET",
    url: "/v1/incidents/open",
    tool: "oncall_tool",
    action: "incident_list",
    summary: "Incidents not closed yet (open or mitigating), newest first",
    fixed: { status: ["open", "mitigating"] },
  },
  { method: "GET", url: "/v1/backlog/dashboard", tool: "backlog_tool", action: "dashboard", summary: "Backlog totals of an environment" },
  { method: "POST", url: "/v1/backlog/generate/weekly", tool: "backlog_tool", action: "auto_generate_weekly", summary: "Backlog items from the latest platform digest (admin)" },
  {
    method: "POST",
    url: "/v1/graphs/:graph/runs",
    tool: "graphs_tool",
    action: "run",
    summary: "Queue a graph run (incident_triage, postmortem_draft) for `input.incident_id`",
    pathParams: { graph: "graph" },
    bodyParams: "input",
  },
  { method: "GET", url: "/v1/runs/:run_id", tool: "graphs_tool", action: "get_run", summary: "A graph run's status, error and artifacts", pathParams: { run_id: "run_id" } },
];

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** A query string value as the params schema types it: `"240"` → 240 for an integer, `"true"` → true. */
function typedQueryValue(value: string, schema: unknown): unknown {
  const types = isObject(schema) ? [schema.type, ...(Array.isArray(schema.anyOf) ? schema.anyOf.map((s: unknown) => (isObject(s) ? s.type : undefined)) : [])] : [];
  if ((types.includes("integer") || types.includes("number")) && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  if (types.includes("boolean") && (value === "true" || value === "false")) return value === "true";
  return value;
}

/** Query parameters as params; a repeated one is a list. */
export function queryParams(query: unknown, paramsSchema: JsonObject): JsonObject {
  const props = isObject(paramsSchema.properties) ? paramsSchema.properties : {};
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(isObject(query) ? query : {})) {
    const typed = (x: unknown) => (typeof x === "string" ? typedQueryValue(x, props[k]) : x);
    out[k] = Array.isArray(v) ? v.map(typed) : typed(v);
  }
  return out;
}

/**
 * The gateway envelope of one shortcut request: query, then body, then path parameters and the
 * route's fixed params (which win). A body that is not a JSON object goes to the gateway as is,
 * which refuses it (400, audited).
 */
export function runbookEnvelope(route: RunbookRoute, request: Pick<FastifyRequest, "query" | "params" | "body">, paramsSchema: JsonObject): unknown {
  const { agent_id: queryAgent, ...query } = queryParams(request.query, paramsSchema);
  const hasBody = Buffer.isBuffer(request.body) && request.body.length > 0;
  const body = hasBody ? parsedBody(request.body) : {};
  if (!isObject(body)) return request.body;
  const { agent_id: bodyAgent, ...rest } = body;
  const fromBody = route.bodyParams === undefined ? rest : rest[route.bodyParams] ?? {};
  if (!isObject(fromBody)) return request.body;
  const path = isObject(request.params) ? request.params : {};
  const fromPath = Object.fromEntries(Object.entries(route.pathParams ?? {}).map(([name, param]) => [param, path[name]]));
  const agent = bodyAgent ?? queryAgent;
  return { action: route.action, params: { ...query, ...fromBody, ...fromPath, ...route.fixed }, ...(agent === undefined ? {} : { agent_id: agent }) };
}

/** JSON Schema of a route's action params (`{}` when the tool is not in this process's registry). */
export function routeParamsSchema(gateway: Pick<GatewayDeps, "registry">, route: RunbookRoute): JsonObject {
  const action = gateway.registry.get(route.tool)?.actions[route.action];
  return action ? paramsJsonSchema(action.paramsDoc ?? action.params) : {};
}

export const runbookRoutes: FastifyPluginAsync<{ gateway: GatewayDeps }> = async (app, { gateway }) => {
  acceptCurlBodies(app);
  const bound = bodyBound(gateway);
  const byUrl = new Map(RUNBOOK_ROUTES.map((r) => [r.url, r.tool]));
  auditOversizeBodies(app, gateway, (request) => byUrl.get(request.routeOptions.url ?? "") ?? MISSING_TOOL);
  for (const route of RUNBOOK_ROUTES) {
    const schema = routeParamsSchema(gateway, route);
    routeOnly(
      app,
      route.method,
      route.url,
      async (request, reply) => answer(gateway, httpCall(request, route.tool, runbookEnvelope(route, request, schema)), reply),
      { bodyLimit: bound },
    );
  }
};
