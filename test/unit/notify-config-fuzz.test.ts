/**
 * Notification config under seeded mutation (the fuzzer's body mutations of a valid routing tree and
 * receivers file, written as YAML): every mutant either loads or is refused with a ConfigError that
 * names the file and a path; none throws anything else or hangs, no refusal echoes a secret, and
 * every tree that loads routes random label sets without throwing. FUZZ_SEED replays a run.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { stringify } from "yaml";
import { ConfigError } from "../../src/config/errors.js";
import { loadPolicy } from "../../src/config/load.js";
import { incidentLabels } from "../../src/notify/labels.js";
import { compileRoutes, matchRoutes, routeMuted } from "../../src/notify/routes.js";
import { mutate, seededRng, UNICODE_EDGES } from "../harness/fuzz.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const MUTANTS = 250;
const SECRET = "hooks.example.test/T0KEN-do-not-echo";
const dec = new TextDecoder();

const ROUTES = {
  route: {
    receiver: "default", group_by: ["service", "env"], group_wait: "0s", group_interval: "1m", repeat_interval: "4h",
    routes: [
      { matchers: ['severity=~"P0|P1"', 'env="prod"'], receiver: "pager", continue: true, mute_time_intervals: ["nights"] },
      { matchers: ['service!~"test-.*"'], receiver: "default", group_by: ["..."] },
    ],
  },
  time_intervals: [{ name: "nights", time_intervals: [{ times: [{ start_time: "22:00", end_time: "24:00" }], location: "Europe/Berlin" }] }],
};
const RECEIVERS = {
  receivers: [
    { name: "default", webhook: { url_env: "OPSBUS_WEBHOOK_URL", hmac_secret_env: "HOOK_SECRET" }, timeout: "10s", max_attempts: 10 },
    { name: "pager", pagerduty: { routing_key_env: "PD_KEY" }, give_up_after: "2h" },
  ],
};

/** A mutant body as the file a person might have written: YAML of the mutated JSON, or the raw text when it is not JSON. */
function asYaml(body: Uint8Array): string {
  const text = dec.decode(body);
  try {
    return stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

function fuzzFile<K extends "notificationRoutes" | "receivers">(key: K, file: string, template: Record<string, unknown>, salt: number) {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-notify-fuzz-"));
  const r = seededRng(SEED + salt);
  const outcomes = { loaded: 0, refused: 0 };
  try {
    for (let i = 0; i < MUTANTS; i++) {
      const m = mutate(r, template, { maxBytes: 64 * 1024, hardMaxBytes: 256 * 1024 });
      // Half the mutants carry a literal secret somewhere a person might paste one.
      const text = r.chance(0.5) ? asYaml(m.body).replace(/url_env: \S+/, `url: https://${SECRET}`) : asYaml(m.body);
      writeFileSync(join(dir, file), text);
      try {
        const policy = loadPolicy(dir, key);
        outcomes.loaded++;
        if (key === "notificationRoutes") routeSome(policy as never, r);
      } catch (err) {
        assert.ok(err instanceof ConfigError, `mutant ${i} (${m.kind}) threw ${String(err)}`);
        assert.ok(err.problems.length > 0 && err.problems.every((p) => p.length > 0), `mutant ${i}: a refusal says why`);
        assert.match(err.message, file);
        assert.not.ok(err.message.includes("T0KEN"), `mutant ${i} (${m.kind}): the refusal echoes a secret: ${err.message}`);
        outcomes.refused++;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return outcomes;
}

function routeSome(policy: Parameters<typeof compileRoutes>[0], r: ReturnType<typeof seededRng>): void {
  const tree = compileRoutes(policy);
  for (let j = 0; j < 5; j++) {
    const labels = incidentLabels({
      service: r.pick(["checkout", "test-x", "", ...UNICODE_EDGES]), env: r.pick(["prod", "dev"]) as "prod", severity: r.pick(["P0", "P1", "P3"]) as "P0",
      labels: { [r.pick(["alertname", "team", "\u0000"])]: r.pick(UNICODE_EDGES) },
    });
    for (const route of matchRoutes(tree, labels)) routeMuted(route, tree.intervals, new Date(Date.UTC(2026, r.int(12), 1 + r.int(28), r.int(24))));
  }
}

test("routing trees: every mutant loads or is refused with the file and a path; loaded trees route any labels", () => {
  const o = fuzzFile("notificationRoutes", "notification_routes.yml", ROUTES, 1);
  assert.ok(o.refused > 0 && o.loaded > 0, JSON.stringify(o));
});

test("receivers: every mutant loads or is refused with the file and a path, never echoing a secret", () => {
  const o = fuzzFile("receivers", "receivers.yml", RECEIVERS, 2);
  assert.ok(o.refused > 0 && o.loaded > 0, JSON.stringify(o));
});

test.run();
