import type { ServerFeatures } from "../context.js";

function atLeast(version: string, major: number, minor: number): boolean {
  const [maj = 0, min = 0] = version.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  return maj > major || (maj === major && minor <= min);
}

/** Reads what the server supports beyond the 2.9 baseline opsbus targets. */
export function detectFeatures(version: string): ServerFeatures {
  const v210 = atLeast(version, 2, 10);
  return { version, termReason: v210, multiFilter: v210 };
}
