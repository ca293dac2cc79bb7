/**
 * `opsbus routes show|test`: amtool's `config routes show` and `config routes test`, on
 * CONFIG_DIR/notification_routes.yml. Local only: no NATS, no gateway.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadEnv } from "../config/env.js";
import { ConfigError } from "../config/errors.js";
import { loadPolicy } from "../config/load.js";
import { POLICY_FILES } from "../config/policies.js";
import { compileRoutes, describeTree, matchRoutes, treeView } from "../notify/routes.js";

export const ROUTES_HELP = `opsbus routes <show|test> [options]   (amtool's config routes show/test)

  show
        Prints the routing tree of CONFIG_DIR/notification_routes.yml: each route's matchers,
        receiver, and the options it sets (inherited ones are left out); -o json: every route
        with every option resolved.
  test --labels name=value,name=value...   (or the labels as arguments: name=value ...)
        Prints the receivers an incident with these labels goes to, comma-separated in tree order
        as amtool prints them. An incident's labels are its own labels plus service, env and
        severity (P0..P3). A value with a comma is quoted: --labels 'team="a,b"'.
        -o json prints the matched routes (path, receiver, group_by, timings in ms, intervals).

Common: --config-dir DIR (default $CONFIG_DIR, ./config)
Exit 0; 2 on a usage error (a malformed label); 1 when the config is invalid.
Example: opsbus routes test --labels service=checkout,env=prod,severity=P1`;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class LabelsError extends Error {}

/**
 * `name=value,name="quoted, value"` → labels. Values may be double-quoted (with `\"` and `\\`
 * escapes) to hold a comma; only `=` pairs, as amtool's `routes test` takes.
 */
export function parseLabelList(text: string, into: Record<string, string> = {}): Record<string, string> {
  let i = 0;
  const fail = (why: string): never => {
    throw new LabelsError(`${why} in ${JSON.stringify(text)}: labels are name=value pairs separated by commas`);
  };
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) fail(`no "=" after ${JSON.stringify(text.slice(i))}`);
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) fail(`${JSON.stringify(name)} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)`);
    i = eq + 1;
    if (text[i] === "~") fail(`${name}=~ is a regex matcher, not a label`);
    let value = "";
    if (text[i] === '"') {
      i++;
      for (; i < text.length && text[i] !== '"'; i++) value += text[i] === "\\" && i + 1 < text.length ? text[++i] : text[i];
      if (text[i] !== '"') fail(`unterminated quote in the value of ${name}`);
      i++;
      if (i < text.length && text[i] !== ",") fail(`text after the quoted value of ${name}`);
    } else {
      const end = text.indexOf(",", i);
      value = text.slice(i, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end;
    }
    if (Object.hasOwn(into, name)) fail(`${name} given twice`);
    into[name] = value;
    if (text[i] === ",") {
      i++;
      if (i === text.length) fail("a trailing comma");
    }
  }
  return into;
}

export interface RoutesIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: RoutesIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

export async function runRoutes(args: string[], io: RoutesIo = consoleIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        labels: { type: "string", multiple: true },
        "config-dir": { type: "string" },
        output: { type: "string", short: "o", default: "simple" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    io.err(`opsbus routes: ${(err as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === "help") {
    io.out(ROUTES_HELP);
    return 0;
  }
  if (command !== "show" && command !== "test") {
    io.err(command ? `opsbus routes: unknown subcommand "${command}"\n\n${ROUTES_HELP}` : ROUTES_HELP);
    return 2;
  }
  if (values.output !== "simple" && values.output !== "json") {
    io.err(`opsbus routes: -o must be simple or json, got "${values.output}"`);
    return 2;
  }
  let labels: Record<string, string> = Object.create(null);
  if (command === "test") {
    try {
      for (const text of [...(values.labels ?? []), ...rest]) labels = parseLabelList(text, labels);
    } catch (err) {
      if (!(err instanceof LabelsError)) throw err;
      io.err(`opsbus routes test: ${err.message}`);
      return 2;
    }
    if (Object.keys(labels).length === 0) {
      io.err("opsbus routes test: give the incident's labels: --labels service=checkout,severity=P1");
      return 2;
    }
  } else if (rest.length) {
    io.err(`opsbus routes show: takes no arguments, got ${rest.join(" ")}`);
    return 2;
  }

  const dir = values["config-dir"] ?? loadEnv().CONFIG_DIR;
  const file = join(dir, POLICY_FILES.notificationRoutes.file);
  if (!existsSync(file)) {
    io.err(`opsbus routes: ${file} not found (set CONFIG_DIR or --config-dir to the config directory)`);
    return 1;
  }
  let tree;
  try {
    tree = compileRoutes(loadPolicy(dir, "notificationRoutes"));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(err.message);
    return 1;
  }

  if (command === "show") {
    io.out(values.output === "json" ? JSON.stringify(treeView(tree), null, 2) : describeTree(tree));
    return 0;
  }
  const matched = matchRoutes(tree, labels);
  io.out(values.output === "json" ? JSON.stringify(matched, null, 2) : matched.map((r) => r.receiver).join(","));
  return 0;
}
