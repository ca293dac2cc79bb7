/**
 * /openapi.json and the app agree: every route the gateway's HTTP app registers is described, and
 * every described operation is a registered route. A route added without its description (or a
 * description left for a route that went away) fails here.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RouteOptions } from "fastify";
// fastify's own schema compiler (a dependency of fastify): JSON Schema 2020-12, as OpenAPI 3.1 uses.
import { Ajv2020 } from "ajv/dist/2020.js";
import { METHOD_NOT_ALLOWED } from "../../src/http/edge.js";
import { openApiPath, OPENAPI_PATH } from "../../src/http/openapi.js";
import { RUNBOOK_ROUTES } from "../../src/http/runbook-routes.js";
import { buildHttpApp } from "../../src/http/server.js";
import { echoTool, harness } from "./gateway-fixtures.js";

type Json = Record<string, unknown>;
const OPERATIONS = ["get", "post", "put", "delete", "patch"];

async function built() {
  const h = harness({ tools: [echoTool] });
  const edge = buildHttpApp({ gateway: h.deps, logger: h.deps.logger, health: async () => ({ ok: true }), status: async () => ({}) });
  const registered = new Set<string>();
  // routeOnly adds a catch-all route per path for the other methods (405): not a route to describe.
  edge.app.addHook("onRoute", (r: RouteOptions) => {
    if ((r.config as Record<string, unknown> | undefined)?.[METHOD_NOT_ALLOWED]) return;
    for (const m of typeof r.method === "string" ? [r.method] : r.method) if (m !== "HEAD") registered.add(`${m} ${openApiPath(r.url)}`);
  });
  await edge.app.ready();
  const res = await edge.app.inject({ method: "GET", url: OPENAPI_PATH });
  assert.is(res.statusCode, 200, res.body);
  return { doc: res.json<Json>(), registered, app: edge.app };
}

const documented = (doc: Json) =>
  new Set(Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) => Object.keys(item).filter((m) => OPERATIONS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`)));

test("every registered route is in /openapi.json, and every operation there is a registered route", async () => {
  const { doc, registered } = await built();
  const described = documented(doc);
  const undocumented = [...registered].filter((r) => !described.has(r));
  const unregistered = [...described].filter((r) => !registered.has(r));
  assert.equal(undocumented, [], `routes missing from src/http/openapi*.ts: ${undocumented.join(", ")}`);
  assert.equal(unregistered, [], `described but not served (register the route, or drop its description): ${unregistered.join(", ")}`);
  assert.is(doc.openapi, "3.1.0");
});

test("the document is self-contained: every $ref resolves, operation ids are unique", async () => {
  const { doc } = await built();
  const schemas = (doc.components as { schemas: Json }).schemas;
  const refs: string[] = [];
  const ids: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== "object" || v === null) return;
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string") refs.push(x);
      else if (k === "operationId" && typeof x === "string") ids.push(x);
      else walk(x);
    }
  };
  walk(doc.paths);
  assert.ok(refs.length > 0);
  for (const r of refs) assert.ok(r.startsWith("#/components/schemas/") && schemas[r.slice("#/components/schemas/".length)] !== undefined, r);
  assert.is(new Set(ids).size, ids.length, `duplicate operationId: ${ids.join(", ")}`);
});

test("tool schemas come from the registry: each action's params, and its entitlement on the shortcuts", async () => {
  const { doc } = await built();
  const schemas = (doc.components as { schemas: Json }).schemas;
  assert.ok(schemas["echo_tool.say.params"], Object.keys(schemas).join(", "));
  const execute = ((doc.paths as Json)["/v1/tools/execute"] as { post: { requestBody: { content: { "application/json": { schema: { oneOf: Json[] } } } } } }).post;
  const bodies = execute.requestBody.content["application/json"].schema.oneOf;
  assert.ok(bodies.some((b) => b.title === "echo_tool.say"));
  for (const r of RUNBOOK_ROUTES) {
    const op = ((doc.paths as Json)[openApiPath(r.url)] as Json)[r.method.toLowerCase()] as Json;
    assert.equal([op["x-opsbus-tool"], op["x-opsbus-action"]], [r.tool, r.action], r.url);
  }
  const dashboard = ((doc.paths as Json)["/v1/alerts/dashboard"] as { get: { parameters: Array<{ name: string }> } }).get;
  assert.ok(dashboard.parameters.some((p) => p.name === "agent_id"));
});

test("the request schemas are JSON Schema 2020-12 that accept the envelope and refuse bad params", async () => {
  const { doc } = await built();
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema(doc, "doc");
  const bodyOf = (path: string) => ajv.getSchema(`doc#/paths/${path.replace(/\//g, "~1")}/post/requestBody/content/application~1json/schema`)!;
  const execute = bodyOf("/v1/tools/execute");
  assert.ok(execute({ tool: "echo_tool", action: "act", params: { mode: "ok" }, agent_id: "alice" }), JSON.stringify(execute.errors));
  assert.ok(execute({ tool: "echo_tool", action: "say", text: "flat params sit beside action" }), JSON.stringify(execute.errors));
  assert.not.ok(execute({ tool: "echo_tool", action: "act", params: { mode: "nope" } }));
  assert.not.ok(execute({ tool: "echo_tool", action: "frobnicate" }));
  const byPath = bodyOf("/v1/tools/{tool}");
  assert.ok(byPath({ action: "act", params: { mode: "ok" } }), JSON.stringify(byPath.errors));
  assert.not.ok(byPath({ params: { mode: "ok" } }));
});

test.run();
