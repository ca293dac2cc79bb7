// Whether `npm run build`'s output is current: every .ts under the given folders of the package
// root has its dist/ .js, written after the .ts last changed. bin/opsbus runs dist/ only then, and
// the test runner runs compiled test files only then, so an edit is never run stale.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** True when every .ts under `srcDir` has a .js under `outDir` at least as new. */
function builtFrom(srcDir, outDir) {
  for (const entry of readdirSync(srcDir, { withFileTypes: true })) {
    const from = join(srcDir, entry.name);
    if (entry.isDirectory()) {
      if (!builtFrom(from, join(outDir, entry.name))) return false;
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
      let outTime;
      try {
        outTime = statSync(join(outDir, entry.name.slice(0, -3) + ".js")).mtimeMs;
      } catch {
        return false;
      }
      if (outTime < statSync(from).mtimeMs) return false;
    }
  }
  return true;
}

/** `dirs` (e.g. ["src", "test"]) under `root` all compiled to `root`/dist and none edited since. */
export function distIsCurrent(root, dirs) {
  return dirs.every((dir) => builtFrom(join(root, dir), join(root, "dist", dir)));
}
