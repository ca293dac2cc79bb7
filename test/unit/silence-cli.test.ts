/** `opsbus silence`'s own parsing, as amtool reads the same flags: durations, matcher arguments, the table. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { matcherArgs, parseDuration, silenceTable } from "../../src/cli/silence.js";
import { UsageError } from "../../src/cli/job-client.js";

test("--duration in Prometheus's syntax: units combine in order; anything else is a usage error", () => {
  assert.is(parseDuration("10m"), 600_000);
  assert.is(parseDuration("1d12h"), 36 * 3_600_000);
  assert.is(parseDuration("1w"), 7 * 86_400_000);
  assert.is(parseDuration("1500ms"), 1500);
  for (const bad of ["", "10", "1h1d", "-5m", "0s", "1.5h", "10 m"]) assert.throws(() => parseDuration(bad), (err: unknown) => err instanceof UsageError, bad);
});

test("matcher arguments: a first bare word is the alertname, as amtool reads it; the rest pass as written", () => {
  assert.equal(matcherArgs(["HighLatency", "env=prod"]), ["alertname=HighLatency", "env=prod"]);
  assert.equal(matcherArgs(['service=~"check.*"', "x!=y"]), ['service=~"check.*"', "x!=y"]);
  assert.equal(matcherArgs([]), []);
});

test("the query table: amtool's columns, matchers as amtool writes them, times in UTC", () => {
  const table = silenceTable([
    {
      id: "00000000-0000-4000-8000-000000000001",
      matchers: [{ name: "alertname", value: "X", is_regex: false, is_equal: true }, { name: "env", value: "dev|staging", is_regex: true, is_equal: false }],
      starts_at: "2026-03-02T10:00:00.000Z",
      ends_at: "2026-03-02T11:00:00.000Z",
      created_by: "helion",
      comment: "deploy",
      updated_at: "2026-03-02T10:00:00.000Z",
      state: "active",
    },
  ]).split("\n");
  assert.match(table[0]!, /^ID\s+Matchers\s+Ends At\s+Created By\s+Comment$/);
  assert.match(table[1]!, /^00000000-0000-4000-8000-000000000001\s+alertname="X" env!~"dev\|staging"\s+2026-03-02 11:00:00 UTC\s+helion\s+deploy$/);
});

test.run();
