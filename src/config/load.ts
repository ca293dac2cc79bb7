import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { ConfigError, formatIssues } from "./errors.js";
import { checkRoutesAgainstReceivers } from "./notification-routes.js";
import { POLICY_FILES, RbacMatrix, type Policies } from "./policies.js";

function readYaml(path: string): unknown {
  try {
    return parseYaml(readFileSync(path, "utf8")) ?? {};
  } catch (err) {
    const reason = err instanceof YAMLParseError ? err.message : String(err);
    throw new ConfigError(path, [`not valid YAML: ${reason}`]);
  }
}

/** Cross-file checks zod cannot see inside one file. */
function checkRbac(path: string, rbac: RbacMatrix): void {
  const problems: string[] = [];
  for (const [agent, role] of Object.entries(rbac.agents)) {
    if (!rbac.roles[role]) problems.push(`at agents.${agent}: got "${role}"; allowed roles: ${Object.keys(rbac.roles).join(", ")}`);
  }
  if (!rbac.roles[rbac.default_role]) problems.push(`at default_role: got "${rbac.default_role}"; no such role`);
  if (problems.length) throw new ConfigError(path, problems);
}

/**
 * One policy file, validated like `loadPolicies` does; a missing file gives the schema's defaults
 * (for CLI commands run outside a checkout, which need one policy and no start-up).
 */
export function loadPolicy<K extends keyof Policies>(dir: string, key: K): Policies[K] {
  const { file, schema } = POLICY_FILES[key];
  const path = join(dir, file);
  const raw = existsSync(path) ? readYaml(path) : {};
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(path, formatIssues(parsed.error.issues, raw));
  return parsed.data as Policies[K];
}

/** Loads and validates every policy file in `dir`; a missing or invalid file refuses start-up. */
export function loadPolicies(dir: string): Policies {
  const out: Partial<Record<keyof Policies, unknown>> = {};
  for (const [key, { file, schema }] of Object.entries(POLICY_FILES)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new ConfigError(path, ["file not found (set CONFIG_DIR to the config directory)"]);
    const raw = readYaml(path);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(path, formatIssues(parsed.error.issues, raw));
    out[key as keyof Policies] = parsed.data;
  }
  const policies = out as Policies;
  checkRbac(join(dir, POLICY_FILES.rbac.file), policies.rbac);
  const undefinedReceivers = checkRoutesAgainstReceivers(policies.notificationRoutes, policies.receivers.receivers.map((r) => r.name));
  if (undefinedReceivers.length) throw new ConfigError(join(dir, POLICY_FILES.notificationRoutes.file), undefinedReceivers);
  return policies;
}

/** The tools a process serves, as config sees them (config does not import src/tools). */
export type ToolCatalog = ReadonlyMap<string, { actions: Readonly<Record<string, { entitlement: string }>> }>;

/** Levenshtein distance, for "did you mean" on a misspelt name. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function unknownName(where: string, got: string, kind: string, allowed: readonly string[]): string {
  const near = allowed.filter((n) => distance(n, got) <= Math.max(2, Math.floor(got.length / 6))).sort((x, y) => distance(x, got) - distance(y, got));
  const hint = near.length ? ` (did you mean "${near[0]}"?)` : "";
  return `at ${where}: got ${JSON.stringify(got)}, not a known ${kind}${hint}; allowed: ${[...allowed].sort().join(", ")}`;
}

/**
 * Cross-checks the RBAC matrix and the tool limits against the tools this process serves: a
 * misspelt entitlement would silently grant nothing, and a misspelt tool name in tool_limits
 * would silently leave the tool on the defaults. Run where the registry is built; throws a
 * ConfigError naming the file, the path, the bad value and what is allowed.
 */
export function checkPoliciesAgainstTools(
  policies: Pick<Policies, "rbac" | "toolLimits">,
  tools: ToolCatalog,
  configDir: string,
  /** Entitlements checked inside handlers rather than named by an action (e.g. tools.release.bypass). */
  extraEntitlements: readonly string[] = [],
): void {
  const entitlements = [...new Set([...[...tools.values()].flatMap((t) => Object.values(t.actions).map((a) => a.entitlement)), ...extraEntitlements])];
  const known = new Set(entitlements);
  const rbacProblems: string[] = [];
  for (const [role, def] of Object.entries(policies.rbac.roles)) {
    def.entitlements.forEach((e, i) => {
      if (!known.has(e)) rbacProblems.push(unknownName(`roles.${role}.entitlements.${i}`, e, "entitlement", entitlements));
    });
  }
  if (rbacProblems.length) throw new ConfigError(join(configDir, POLICY_FILES.rbac.file), rbacProblems);
  const toolNames = [...tools.keys()];
  const limitProblems = Object.keys(policies.toolLimits.tools)
    .filter((name) => !tools.has(name))
    .map((name) => unknownName(`tools.${name}`, name, "tool", toolNames));
  if (limitProblems.length) throw new ConfigError(join(configDir, POLICY_FILES.toolLimits.file), limitProblems);
}
