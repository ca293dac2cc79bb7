/**
 * config/inhibit_rules.yml: Alertmanager's `inhibit_rules` (`source_matchers`, `target_matchers`,
 * `equal`, optional `name`), each matcher an Alertmanager matcher string such as `severity="P0"`,
 * parsed here once so a bad one refuses start-up with the file, the path and the parser's reason.
 */
import { z } from "zod";
import type { InhibitRule } from "../silences/inhibit.js";
import { MatcherError, parseMatcher, type Matcher } from "../silences/matchers.js";

/** One matcher string (`name op value`), parsed; a bad one is an issue with Alertmanager's wording. */
export const MatcherText = z.string().transform((text, ctx): Matcher => {
  try {
    return parseMatcher(text);
  } catch (err) {
    if (!(err instanceof MatcherError)) throw err;
    ctx.addIssue({ code: "custom", message: err.message });
    return z.NEVER;
  }
});

/** A YAML key left empty (every entry commented out) reads as null: the same as no entries. */
export const listOrNone = <T extends z.ZodType>(item: T) => z.preprocess((v) => v ?? [], z.array(item));

/** Names that must be unique within one list, e.g. `inhibit_rules.1.name`. */
export function uniqueNames(items: ReadonlyArray<{ name?: string | undefined }>, ctx: z.RefinementCtx, what: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (item.name === undefined) return;
    if (seen.has(item.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `another ${what} is already named ${JSON.stringify(item.name)}` });
    seen.add(item.name);
  });
}

const InhibitRuleSpec = z
  .strictObject({
    name: z.string().min(1).max(128).optional(),
    // Alertmanager allows an empty side (matching every alert); here that is refused as surely a mistake.
    source_matchers: z.array(MatcherText).min(1, "at least one matcher: which alerts inhibit"),
    target_matchers: z.array(MatcherText).min(1, "at least one matcher: which alerts are inhibited"),
    equal: z.array(z.string().min(1, "a label name")).default([]),
  })
  .transform((r): InhibitRule => ({
    ...(r.name !== undefined ? { name: r.name } : {}),
    source_matchers: r.source_matchers,
    target_matchers: r.target_matchers,
    equal: r.equal,
  }));

export const InhibitRulesPolicy = z.strictObject({
  inhibit_rules: listOrNone(InhibitRuleSpec).superRefine((rules, ctx) => uniqueNames(rules, ctx, "rule")),
});
export type InhibitRulesPolicy = z.infer<typeof InhibitRulesPolicy>;
