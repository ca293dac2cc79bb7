/**
 * `$SRV.INFO` endpoint metadata: one plain-text key per fact (action names, each action's
 * description, entitlement and parameters), the JSON Schema alone under `<action>.params`.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { actionsFromMetadata, describeActions, endpointMetadata, paramLine } from "../../src/gateway/jsonSchema.js";
import { shippedRegistry } from "./registry-fixture.js";

const registry = shippedRegistry();
const isJsonDocument = (v: string) => {
  try {
    const parsed = JSON.parse(v) as unknown;
    return typeof parsed === "object" && parsed !== null;
  } catch {
    return false;
  }
};

test("every value is a string; only <action>.params holds JSON, everything else reads as is", () => {
  for (const tool of registry.values()) {
    const m = endpointMetadata(tool);
    for (const [key, value] of Object.entries(m)) {
      assert.type(value, "string", `${tool.name} ${key}`);
      assert.is(isJsonDocument(value), key.endsWith(".params"), `${tool.name} ${key}: ${value.slice(0, 80)}`);
    }
    assert.is(m.description, tool.description);
    assert.is(m.actions, Object.keys(tool.actions).join(","), `${tool.name} lists its actions by name`);
    for (const [name, def] of Object.entries(tool.actions)) {
      assert.is(m[`${name}.description`], def.description);
      assert.is(m[`${name}.entitlement`], def.entitlement);
    }
  }
});

test("each parameter has its own line: type, allowed values, required or default, description", () => {
  const alerts = endpointMetadata(registry.get("alert_ingest_tool")!);
  assert.match(alerts["ingest.param.severity"]!, /^one of P0\|P1\|P2\|P3\|critical\|high\|warning\|info; default "P2" — /);
  assert.match(alerts["ingest.param.service"]!, /; required — the service/);
  assert.match(alerts["list.param.limit"]!, /^integer 1–500; default 50 — /);
  assert.match(alerts["list.param.status_in"]!, /^one of new\|processing\|acked\|failed\|suppressed, or a list of them; optional — /);
  const incidents = endpointMetadata(registry.get("oncall_tool")!);
  assert.match(incidents["incident_list.param.since"]!, /^ISO 8601 date-time; optional — /);
  for (const tool of registry.values()) {
    const m = endpointMetadata(tool);
    for (const [name, d] of Object.entries(describeActions(tool))) {
      for (const [param, schema] of Object.entries((d.params.properties ?? {}) as Record<string, { description?: string }>)) {
        const line = m[`${name}.param.${param}`];
        assert.ok(line, `${tool.name}.${name}.${param} has a line`);
        assert.ok(schema.description && line.endsWith(schema.description), `${tool.name}.${name}.${param}: ${line}`);
      }
    }
  }
});

test("actionsFromMetadata reads back what describeActions published, JSON Schemas included", () => {
  for (const tool of registry.values()) {
    assert.equal(actionsFromMetadata(endpointMetadata(tool)), describeActions(tool), tool.name);
  }
  assert.equal(actionsFromMetadata(undefined), {});
});

test("paramLine: unbounded integers say only their known bound; unknown types say any", () => {
  assert.is(paramLine({ type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "secs" }, false), "integer ≥ 1; optional — secs");
  assert.is(paramLine({}, true), "any; required");
  assert.is(paramLine({ type: "boolean", default: false }, false), "boolean; default false");
});

test.run();
