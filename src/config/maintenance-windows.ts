/**
 * config/maintenance_windows.yml: recurring maintenance windows. Each has a unique name (reported
 * in an alert's `muted_by`), matchers as Alertmanager matcher strings, and Alertmanager
 * `time_intervals`; an alert its matchers select is muted while inside any of the intervals.
 */
import { z } from "zod";
import type { MaintenanceWindow } from "../silences/suppression.js";
import { TimeIntervalSpec } from "../silences/time-intervals.js";
import { listOrNone, MatcherText, uniqueNames } from "./inhibit-rules.js";

const WindowSpec = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "letters, digits, _ . : - (a window name)").max(128),
    // At least one, so a window never mutes every alert by accident (`service=~".+"` says it on purpose).
    matchers: z.array(MatcherText).min(1, "at least one matcher: which alerts the window mutes"),
    time_intervals: z.array(TimeIntervalSpec).min(1, "at least one time interval"),
  })
  .transform((w): MaintenanceWindow => w);

export const MaintenanceWindowsPolicy = z.strictObject({
  windows: listOrNone(WindowSpec).superRefine((windows, ctx) => uniqueNames(windows, ctx, "window")),
});
export type MaintenanceWindowsPolicy = z.infer<typeof MaintenanceWindowsPolicy>;
