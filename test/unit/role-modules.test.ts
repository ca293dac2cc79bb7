/**
 * A process loads the code of the roles it runs, not of every role: an ingest worker (`opsbus
 * worker alerts-in`) must not carry the HTTP framework, the console's renderer or the mail client.
 * Loaded modules are seen through a module loader hook registered before anything of opsbus loads.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { register } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const dir = mkdtempSync(join(tmpdir(), "opsbus-role-modules-"));
const log = join(dir, "loaded.txt");
const hook = join(dir, "hook.mjs");
writeFileSync(log, "");
writeFileSync(
  hook,
  `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(log)}, url + "\\n");
  return next(url, context);
}`,
);
register(pathToFileURL(hook).href);

/** Packages a worker without the gateway or notifier role has no use for. */
const NOT_FOR_INGEST = ["fastify", "nodemailer", "markdown-it", "sanitize-html", "undici"];

const packagesLoaded = () =>
  new Set(
    readFileSync(log, "utf8")
      .split("\n")
      .flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []),
  );

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("what `worker alerts-in` loads leaves out the HTTP surface, the console and the notifier", async () => {
  // What main.ts runs for the role: the process wiring, observability, the role table, the role itself.
  await import("../../src/main.js");
  await import("../../src/app/observability.js");
  await import("../../src/app/roles.js");
  await import("../../src/app/alerts-in.js");
  const loaded = packagesLoaded();
  assert.ok(loaded.has("@nats-io/jetstream"), `the hook sees package loads (saw: ${[...loaded].join(", ")})`);
  assert.equal(NOT_FOR_INGEST.filter((p) => loaded.has(p)), []);
});

test("the gateway role loads them when it starts", async () => {
  await import("../../src/app/gateway-role.js");
  const loaded = packagesLoaded();
  assert.ok(loaded.has("fastify"));
});

test.run();
