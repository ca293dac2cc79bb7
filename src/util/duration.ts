/** Prometheus's duration syntax (`30s`, `5m`, `1d12h`, `1w`), as Alertmanager's config and amtool read it. */
import { z } from "zod";

const UNITS: Record<string, number> = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const SYNTAX = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;

/** Milliseconds of `text`, or undefined when it is not a duration (`0s` is 0; the empty string is not one). */
export function durationMs(text: string): number | undefined {
  const m = SYNTAX.exec(text);
  if (!m || text === "") return undefined;
  const parts: Array<[string | undefined, string]> = [[m[2], "y"], [m[4], "w"], [m[6], "d"], [m[8], "h"], [m[10], "m"], [m[12], "s"], [m[14], "ms"]];
  return parts.reduce((sum, [n, unit]) => sum + (n ? Number(n) * UNITS[unit]! : 0), 0);
}

/** A duration string in config, parsed to milliseconds; a bad one is an issue that shows the syntax. */
export const DurationText = z.string().transform((text, ctx): number => {
  const ms = durationMs(text);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `not a duration: "${text}" (e.g. 30s, 5m, 4h, 1d12h)` });
    return z.NEVER;
  }
  return ms;
});
