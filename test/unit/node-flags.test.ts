/** Every way opsbus is started passes the same node flags (src/util/node-flags.ts), so what the benchmarks measure is what runs. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { NODE_FLAGS } from "../../src/util/node-flags.js";

/** A file of the repository (the runner's working directory, whether this runs compiled or not). */
const read = (path: string) => readFileSync(path, "utf8");

test("the Docker image's entry point, npm start and bin/opsbus's shebang pass NODE_FLAGS", () => {
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(read("Dockerfile"));
  assert.ok(entry, "an exec-form ENTRYPOINT");
  assert.equal(JSON.parse(entry![1]!), ["node", ...NODE_FLAGS, "dist/src/cli.js"]);
  const start = (JSON.parse(read("package.json")) as { scripts: { start: string } }).scripts.start;
  assert.is(start, `node ${NODE_FLAGS.join(" ")} --import tsx src/cli.ts start`);
  assert.is(read("bin/opsbus").split("\n")[0], `#!/usr/bin/env -S node ${NODE_FLAGS.join(" ")}`);
});

test("node takes the flags (a flag it does not know would stop every process at start)", () => {
  // Node exits 9 ("bad option") on a flag it does not know; execFileSync throws then.
  const out = execFileSync(process.execPath, [...NODE_FLAGS, "-e", "process.stdout.write('started')"], { encoding: "utf8" });
  assert.is(out, "started");
  assert.throws(() => execFileSync(process.execPath, ["--max-semi-space-sizes=32", "-e", "0"], { stdio: "ignore" }), /Command failed/);
});

test.run();
