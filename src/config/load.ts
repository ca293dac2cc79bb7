import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { ConfigError, formatIssues } from "./errors.js";
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
  return policies;
}
