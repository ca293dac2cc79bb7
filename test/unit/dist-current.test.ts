/**
 * bin/dist-current.mjs decides whether bin/opsbus and the test runner run dist/ or the sources
 * through tsx: stale output must never run, and current output must be used.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

// From the repository root (the runner's working directory): the same file whether this runs compiled or not.
const { distIsCurrent } = (await import(pathToFileURL(resolve("bin/dist-current.mjs")).href)) as { distIsCurrent(root: string, dirs: string[]): boolean };

/** A package root with `files` (path → mtime in seconds). */
function tree(files: Record<string, number>): string {
  const root = mkdtempSync(join(tmpdir(), "opsbus-dist-current-"));
  for (const [path, mtime] of Object.entries(files)) {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, "");
    utimesSync(file, mtime, mtime);
  }
  return root;
}

const cases: Array<[string, Record<string, number>, boolean]> = [
  ["every .ts compiled after its last edit", { "src/a.ts": 100, "src/x/b.ts": 100, "dist/src/a.js": 200, "dist/src/x/b.js": 200 }, true],
  ["an edit after the build", { "src/a.ts": 100, "src/x/b.ts": 300, "dist/src/a.js": 200, "dist/src/x/b.js": 200 }, false],
  ["a new file not built yet", { "src/a.ts": 100, "src/c.ts": 100, "dist/src/a.js": 200 }, false],
  ["declaration files need no output", { "src/a.ts": 100, "src/types.d.ts": 300, "dist/src/a.js": 200 }, true],
  ["no dist at all", { "src/a.ts": 100 }, false],
];
for (const [name, files, current] of cases) {
  test(name, () => {
    const root = tree(files);
    try {
      assert.is(distIsCurrent(root, ["src"]), current);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test("every folder asked for must be current", () => {
  const root = tree({ "src/a.ts": 100, "dist/src/a.js": 200, "test/t.ts": 300, "dist/test/t.js": 200 });
  try {
    assert.ok(distIsCurrent(root, ["src"]));
    assert.not.ok(distIsCurrent(root, ["src", "test"]));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
