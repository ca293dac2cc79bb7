/**
 * `GET /openapi.json`: OpenAPI 3.1 of every route the gateway's HTTP listener serves. The tool
 * API and the runbook shortcuts are generated from the tool registry (each action's params schema,
 * entitlement and description) and from RUNBOOK_ROUTES; the probes and the two intake APIs
 * (openapi-intake.ts) are described by hand. test/unit/openapi.test.ts checks the paths against
 * the routes the app registers, both ways.
 */
import type { FastifyPluginAsync } from "fastify";
import { ERROR_CODES, HTTP_STATUS } from "../errors.js";
import { paramsJsonSchema } from "../gateway/jsonSchema.js";
import type { GatewayDeps } from "../gateway/types.js";
import type { ToolRegistry } from "../tools/types.js";
import { VERSION } from "../version.js";
import { ackLinkPaths } from "./ack-link.js";
import { CONSOLE_SECURITY_SCHEME, consolePaths } from "./console/openapi.js";
import { consolePagePaths } from "./console/pages/openapi.js";
import { routeOnly } from "./edge.js";
import { intakePaths } from "./openapi-intake.js";
import { silencePaths } from "./openapi-silences.js";
import { REFUSED_STATUS } from "./status.js";
import { RUNBOOK_ROUTES, type RunbookRoute } from "./runbook-routes.js";
import { TOOL_PATH, TOOLS_PATH } from "./tools.js";

type Json = Record<string, unknown>;

export const OPENAPI_PATH = "/openapi.json";

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
/** fastify's `/a/:b` as OpenAPI's `/a/{b}`. */
export const openApiPath = (url: string): string => url.replace(/:(\w+)/g, "{$1}");
const paramsName = (tool: string, action: string) => `${tool}.${action}.params`;

const envelopeSchema: Json = {
  oneOf: [
    { type: "object", required: ["ok", "result"], properties: { ok: { const: true }, result: {} } },
    {
      type: "object",
      required: ["ok", "error"],
      properties: {
        ok: { const: false },
        error: { type: "object", required: ["code", "message"], properties: { code: { type: "string", enum: [...ERROR_CODES] }, message: { type: "string" }, details: {} } },
      },
    },
  ],
};

/** Every status a tool call can answer, from the one table (status.ts, errors.ts). */
function toolResponses(): Json {
  const body = (description: string) => ({ description, content: { "application/json": { schema: ref("ToolReply") } } });
  const out: Json = { "200": body("the action's result in `result`"), [String(REFUSED_STATUS)]: body("a success the tool refused (alert_ingest_tool.ingest: accepted false, with reasons)") };
  for (const code of ERROR_CODES) {
    const status = String(HTTP_STATUS[code]);
    const known = (out[status] as { description?: string } | undefined)?.description;
    out[status] = body(known ? `${known}; ${code}` : code);
  }
  return out;
}

const security = [{ bearerAuth: [] }, { basicAuth: [] }, { apiKeyHeader: [] }, {}];

function actionSchemas(registry: ToolRegistry): Json {
  const out: Json = { ToolReply: envelopeSchema };
  for (const tool of registry.values()) {
    for (const [name, action] of Object.entries(tool.actions)) out[paramsName(tool.name, name)] = paramsJsonSchema(action.paramsDoc ?? action.params);
  }
  return out;
}

/** One body shape per action: `{action, params}`, the params also accepted flat beside `action`. */
function actionBodies(registry: ToolRegistry, withTool: boolean): Json[] {
  return [...registry.values()].flatMap((tool) =>
    Object.entries(tool.actions).map(([name, action]) => ({
      title: `${tool.name}.${name}`,
      description: `${action.description} Needs ${action.entitlement}.`,
      type: "object",
      required: withTool ? ["tool", "action"] : ["action"],
      properties: {
        ...(withTool ? { tool: { const: tool.name } } : {}),
        action: { const: name },
        agent_id: { type: "string", description: "the calling agent; must match the key's agent where a key is given" },
        params: ref(paramsName(tool.name, name)),
      },
      additionalProperties: true,
    })),
  );
}

function toolPaths(registry: ToolRegistry): Record<string, Json> {
  const names = [...registry.keys()];
  const shortNames = names.filter((n) => n.endsWith("_tool")).map((n) => n.slice(0, -"_tool".length));
  const post = (operationId: string, summary: string, withTool: boolean, extra: Json = {}) => ({
    post: {
      operationId,
      summary,
      tags: ["tools"],
      security,
      ...extra,
      requestBody: { required: true, content: { "application/json": { schema: { oneOf: actionBodies(registry, withTool) } } } },
      responses: toolResponses(),
    },
  });
  return {
    [TOOLS_PATH]: post("executeTool", "Run a tool action: {tool, action, params, agent_id}; params nested or flat", true),
    [openApiPath(TOOL_PATH)]: post("executeToolByPath", "Run an action of the tool the path names: {action, params, agent_id}; params nested or flat", false, {
      parameters: [{ name: "tool", in: "path", required: true, schema: { type: "string", enum: [...names, ...shortNames] }, description: "a tool, or its name without _tool" }],
    }),
  };
}

/** A runbook shortcut: its params as query parameters (GET, or POST without a body member for them) or the body. */
function runbookOperation(registry: ToolRegistry, r: RunbookRoute): Json {
  const action = registry.get(r.tool)?.actions[r.action];
  const schema = action ? paramsJsonSchema(action.paramsDoc ?? action.params) : {};
  const props = (schema.properties ?? {}) as Json;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const fromPath = new Set(Object.values(r.pathParams ?? {}));
  const taken = new Set([...fromPath, ...Object.keys(r.fixed ?? {})]);
  const pathParameters = Object.entries(r.pathParams ?? {}).map(([name, param]) => ({ name, in: "path", required: true, schema: props[param] ?? { type: "string" } }));
  const open = Object.entries(props).filter(([k]) => !taken.has(k));
  const query = r.bodyParams ? [] : open.map(([name, s]) => ({ name, in: "query", required: required.has(name), schema: s }));
  const agent = { name: "agent_id", in: "query", required: false, schema: { type: "string" }, description: "the calling agent (dev: trusted without a key)" };
  const bodyProps = r.bodyParams ? { [r.bodyParams]: { type: "object", properties: Object.fromEntries(open), required: open.map(([k]) => k).filter((k) => required.has(k)) } } : {};
  return {
    operationId: `${r.tool}.${r.action}`.replace(/[^A-Za-z0-9]+(.)/g, (_m, c: string) => c.toUpperCase()),
    summary: r.summary,
    description: `${action?.description ?? ""} The same call as ${r.tool}.${r.action} on /v1/tools/execute${action ? `; needs ${action.entitlement}` : ""}.`.trim(),
    tags: ["runbook"],
    security,
    "x-opsbus-tool": r.tool,
    "x-opsbus-action": r.action,
    ...(action ? { "x-opsbus-entitlement": action.entitlement } : {}),
    parameters: [...pathParameters, ...query, agent],
    ...(r.method === "POST"
      ? { requestBody: { required: r.bodyParams !== undefined, content: { "application/json": { schema: { type: "object", properties: { agent_id: { type: "string" }, ...bodyProps } } } } } }
      : {}),
    responses: toolResponses(),
  };
}

const jsonReply = (description: string): Json => ({ description, content: { "application/json": { schema: { type: "object" } } } });

function probePaths(): Record<string, Json> {
  return {
    "/metrics": { get: { operationId: "metrics", summary: "Prometheus metrics (text exposition 0.0.4)", tags: ["probes"], responses: { "200": { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } }, "404": jsonReply("metrics disabled in this process") } } },
    "/healthz": { get: { operationId: "healthz", summary: "The health report (ops.health's answer)", tags: ["probes"], responses: { "200": jsonReply("healthy"), "503": jsonReply("not healthy; the report says why") } } },
    "/monitor/status": { get: { operationId: "monitorStatus", summary: "The monitor status subject's answer", tags: ["probes"], responses: { "200": jsonReply("the status") } } },
    [OPENAPI_PATH]: { get: { operationId: "openapi", summary: "This document", tags: ["probes"], responses: { "200": jsonReply("OpenAPI 3.1") } } },
  };
}

export function openApiDocument(registry: ToolRegistry): Json {
  const paths: Record<string, Json> = { ...probePaths(), ...toolPaths(registry), ...intakePaths(), ...silencePaths(), ...ackLinkPaths(), ...consolePagePaths(consolePaths()) };
  for (const r of RUNBOOK_ROUTES) {
    const path = openApiPath(r.url);
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: runbookOperation(registry, r) };
  }
  return {
    openapi: "3.1.0",
    info: { title: "opsbus", version: VERSION, description: "The gateway's HTTP API: tools (the NATS tool API over HTTP), the reference runbooks' shortcuts, Alertmanager API v2 and PagerDuty Events v2 intake, probes." },
    paths,
    components: {
      schemas: actionSchemas(registry),
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "OPSBUS_API_KEYS; required in staging and prod" },
        basicAuth: { type: "http", scheme: "basic", description: "the agent's id as user name and its key (OPSBUS_API_KEYS) as password, for senders that offer only Basic" },
        apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key", description: "the same key as Authorization: Bearer; both naming different keys is 400" },
        consoleSession: CONSOLE_SECURITY_SCHEME,
      },
    },
  };
}

export const openApiRoutes: FastifyPluginAsync<{ gateway: Pick<GatewayDeps, "registry"> }> = async (app, { gateway }) => {
  // Built once: the registry does not change while the process runs.
  const document = JSON.stringify(openApiDocument(gateway.registry));
  routeOnly(app, "GET", OPENAPI_PATH, async (_request, reply) => reply.type("application/json").send(document));
};
