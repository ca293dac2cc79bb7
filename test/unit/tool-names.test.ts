/**
 * `TOOL_NAMES` (src/subjects) is what the CLI and agents are told exists; the registry is what the
 * gateway serves. Built from the shipped config, the two must name the same tools, so a tool added
 * to one side only fails here, naming it, instead of as "no responders" at a user's terminal.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TOOL_NAMES } from "../../src/subjects/index.js";
import { shippedRegistry } from "./registry-fixture.js";

const registry = shippedRegistry();
const listed = new Set<string>(TOOL_NAMES);

test("every tool the registry serves is in TOOL_NAMES", () => {
  const unlisted = [...registry.keys()].filter((name) => !listed.has(name));
  assert.equal(unlisted, [], `served but missing from TOOL_NAMES (src/subjects/tools.ts): ${unlisted.join(", ")}`);
});

test("every name in TOOL_NAMES is served by the registry", () => {
  const unserved = TOOL_NAMES.filter((name) => !registry.has(name));
  assert.equal(unserved, [], `in TOOL_NAMES but not built by the tool registry: ${unserved.join(", ")}`);
});

test("TOOL_NAMES lists each tool once, and each registry entry is keyed by its tool's own name", () => {
  assert.is(listed.size, TOOL_NAMES.length, `duplicates in TOOL_NAMES: ${TOOL_NAMES.join(", ")}`);
  for (const [key, tool] of registry) assert.is(tool.name, key, `registry key ${key} holds tool ${tool.name}`);
});

test.run();
