/**
 * The README's "Public contract" row for `ops.events.<domain>.<type>` lists the events opsbus
 * publishes; it must name exactly the event map's types (src/subjects/event-map.ts).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { EVENT_TYPES } from "../../src/subjects/index.js";

const ROW_START = "| `ops.events.<domain>.<type>` |";

function readmeEventTypes(): string[] {
  const rows = readFileSync("README.md", "utf8").split("\n").filter((line) => line.startsWith(ROW_START));
  assert.is(rows.length, 1, `README.md has one row starting ${ROW_START}`);
  const cells = rows[0]!.split("|").map((c) => c.trim());
  const listed = cells.at(-2) ?? "";
  return [...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

test("the README's event row names every event of the map, and only those", () => {
  const readme = readmeEventTypes();
  const inMap = new Set<string>(EVENT_TYPES);
  const missing = EVENT_TYPES.filter((t) => !readme.includes(t));
  const unknown = readme.filter((t) => !inMap.has(t));
  assert.equal(
    { missing_from_readme: missing, not_in_event_map: unknown },
    { missing_from_readme: [], not_in_event_map: [] },
    `README.md's ${ROW_START} row and src/subjects/event-map.ts disagree: missing from the README ${JSON.stringify(missing)}, not published ${JSON.stringify(unknown)}`,
  );
  assert.is(new Set(readme).size, readme.length, "no event is listed twice");
});

test.run();
