/**
 * The tool API as agents discover it: every parameter of every action of the real registry is
 * described, and a parameter the server checks against a set of values publishes that set as
 * `enum`. Fails naming `tool.action.param`, so a new parameter cannot slip in undocumented.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { paramsJsonSchema } from "../../src/gateway/jsonSchema.js";
import { alertInputSchema } from "../../src/subjects/index.js";
import { action, type ActionDef, type ToolDef } from "../../src/tools/types.js";
import { shippedPolicies as policies, shippedRegistry } from "./registry-fixture.js";

type Json = Record<string, unknown>;
const registry = shippedRegistry();

interface Param {
  /** `tool.action.param` */
  id: string;
  name: string;
  published: Json;
  /** The zod schema the server checks this param with. */
  validator: z.ZodType | undefined;
  /** The whole params schema the server checks, for probing one param in place. */
  actionValidator: z.ZodType;
}

/** ingest's params are loose on purpose: the shared ingest path checks the alert (accepted=false). */
function serverValidator(tool: string, action: string, def: ActionDef): z.ZodType {
  if (tool === "alert_ingest_tool" && action === "ingest") return alertInputSchema(policies.alertRouting.alerts);
  return def.params;
}

function shapeOf(schema: z.ZodType): Record<string, z.ZodType> {
  const def = (schema as unknown as { _zod: { def: { type: string; shape?: Record<string, z.ZodType>; in?: z.ZodType; innerType?: z.ZodType; schema?: z.ZodType } } })._zod.def;
  if (def.shape) return def.shape;
  const inner = def.in ?? def.innerType ?? def.schema;
  return inner ? shapeOf(inner) : {};
}

function paramsOf(tools: Iterable<ToolDef>): Param[] {
  const out: Param[] = [];
  for (const tool of tools) {
    for (const [action, def] of Object.entries(tool.actions)) {
      const published = paramsJsonSchema(def.paramsDoc ?? def.params);
      const actionValidator = serverValidator(tool.name, action, def);
      const shape = shapeOf(actionValidator);
      for (const [name, schema] of Object.entries((published.properties ?? {}) as Record<string, Json>)) {
        out.push({ id: `${tool.name}.${action}.${name}`, name, published: schema, validator: shape[name], actionValidator });
      }
    }
  }
  return out;
}
const params = paramsOf(registry.values());

/** True when the server's check of this param includes a fixed set of values (enum, literal, native enum). */
function enforcesSet(schema: z.ZodType | undefined): boolean {
  if (!schema) return false;
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case "enum":
    case "literal":
      return true;
    case "union":
      return (def.options as z.ZodType[]).some(enforcesSet);
    case "pipe":
      return enforcesSet(def.in as z.ZodType) || enforcesSet(def.out as z.ZodType);
    case "array":
      return enforcesSet(def.element as z.ZodType);
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
    case "nonoptional":
      return enforcesSet(def.innerType as z.ZodType);
    default:
      return false;
  }
}

/** The string schemas an agent could send for this param (through anyOf/oneOf and array items). */
function stringLeaves(s: Json): Json[] {
  const branches = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (branches) return branches.flatMap(stringLeaves);
  if (s.type === "array" && s.items) return stringLeaves(s.items as Json);
  return s.type === "string" || (s.type === undefined && (s.enum || s.const)) ? [s] : [];
}
const enumerated = (s: Json) => Array.isArray(s.enum) || s.const !== undefined;
/** A string the published schema lets anything through (no set, no pattern, no format). */
const freeText = (s: Json) => !enumerated(s) && s.pattern === undefined && s.format === undefined;

const PROBE = "zz-probe-value";

/** The server finds nothing wrong with this param at this value (other params may still be missing). */
function acceptsParam(p: Param, value: unknown): boolean {
  const r = p.actionValidator.safeParse({ [p.name]: value });
  return r.success || !r.error.issues.some((i) => i.path[0] === p.name);
}

/** `tool.action.param` of every parameter without a description worth the name. */
const undescribed = (ps: Param[]) => ps.filter((p) => typeof p.published.description !== "string" || p.published.description.trim().length < 10).map((p) => p.id);

/** Parameters the server checks against a set, published with a string that names no set. */
const unpublishedSets = (ps: Param[]) =>
  ps.filter((p) => enforcesSet(p.validator) && stringLeaves(p.published).some((s) => !enumerated(s))).map((p) => p.id);

/** Parameters published as free text that the server refuses arbitrary text for (a set checked by refine). */
const refusedFreeText = (ps: Param[]) => ps.filter((p) => p.validator && stringLeaves(p.published).some(freeText) && !acceptsParam(p, PROBE)).map((p) => p.id);

/** `tool.action.param=value` of published enum values the server refuses. */
function refusedEnumValues(ps: Param[]): string[] {
  const wrong: string[] = [];
  for (const p of ps.filter((x) => x.validator)) {
    for (const value of stringLeaves(p.published).flatMap((leaf) => (leaf.enum as unknown[] | undefined) ?? [])) {
      // An enum under array items is sent as a one-element list.
      if (!acceptsParam(p, value) && !acceptsParam(p, [value])) wrong.push(`${p.id}=${String(value)}`);
    }
  }
  return wrong;
}

const list = (ids: string[]) => `(${ids.length}):\n  ${ids.join("\n  ")}`;

test("the registry is the real one, with every tool", () => {
  assert.ok(registry.size >= 11, `tools: ${[...registry.keys()].join(", ")}`);
  assert.ok(params.length >= 150, `params found: ${params.length}`);
});

test("every action and every parameter has a description", () => {
  const bare = undescribed(params);
  assert.equal(bare, [], `parameters without a description of ${params.length} ${list(bare)}`);
  const bareActions = [...registry.values()].flatMap((t) => Object.entries(t.actions).filter(([, d]) => d.description.trim().length < 10).map(([a]) => `${t.name}.${a}`));
  assert.equal(bareActions, [], "actions without a description");
});

test("a parameter the server checks against a set of values publishes it as enum", () => {
  const loose = unpublishedSets(params);
  assert.equal(loose, [], `parameters whose enum the schema does not publish ${list(loose)}`);
});

test("a parameter published as free text accepts any text (a refine-checked set is published as enum)", () => {
  const refused = refusedFreeText(params);
  assert.equal(refused, [], `parameters published as free text that the server refuses "${PROBE}" for ${list(refused)}`);
});

test("every published enum value is accepted by the server", () => {
  assert.equal(refusedEnumValues(params), [], "published values the server refuses");
});

test("the checks catch the shapes this registry had before: no description, a split list piped to an enum, a refined set", () => {
  const splitList = z.union([z.array(z.string()), z.string().transform((s) => s.split(","))]);
  const old: ToolDef = {
    name: "old_tool",
    description: "shapes of the registry before issue 11",
    actions: {
      list: action({
        entitlement: "tools.old.read",
        description: "incident_list as it was",
        params: z.strictObject({
          status: splitList.pipe(z.array(z.enum(["open", "closed"]))).optional(),
          severity: z.string().refine((s) => ["P0", "P1"].includes(s), "P0 or P1").optional(),
          limit: z.number().int().default(50).describe("most incidents answered; default 50"),
        }),
        handler: async () => ({}),
      }),
    },
  };
  const ps = paramsOf([old]);
  assert.equal(undescribed(ps), ["old_tool.list.status", "old_tool.list.severity"]);
  assert.equal(unpublishedSets(ps), ["old_tool.list.status"]);
  assert.equal(refusedFreeText(ps), ["old_tool.list.status", "old_tool.list.severity"]);
});

test.run();
