import type { z } from "zod";

/** A config file that cannot be used; the process refuses to start with this message. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid configuration\n  - ${problems.join("\n  - ")}`);
  }
}

function describeValue(root: unknown, path: PropertyKey[]): string {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return "(missing)";
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  if (cur === undefined) return "(missing)";
  const text = JSON.stringify(cur);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One line per problem: where, what was there, and what is allowed. */
export function formatIssues(issues: z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => {
    const where = issue.path.length ? issue.path.join(".") : "(root)";
    return `at ${where}: got ${describeValue(input, issue.path)}; ${issue.message}`;
  });
}
