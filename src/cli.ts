#!/usr/bin/env node
/**
 * The `opsbus` command. Each subcommand is small; `opsbus <command> --help` explains it. Modules
 * load per command: roles.js pulls in every worker, tool and store (about half a second), which
 * a `tool`, `health` or `alert` call does not need.
 */
import { ConfigError } from "./config/errors.js";
import type { Role } from "./app/roles.js";

const usage = async () => {
  const { ROLES } = await import("./app/roles.js");
  return `opsbus — ops-governance pipeline over NATS JetStream

Usage: opsbus <command> [options]

Commands:
  start                      run gateway and all workers in this process
  worker <name>              run one role alone (${ROLES.join(", ")}); run several for scale-out
  migrate [--dry-run]        apply Postgres migrations (--dry-run prints the DDL)
  tool <tool> <action>       call the tool API: --params '{"k":"v"}' [--agent ID] [--key KEY]
  alert publish              publish an alert: --service S --title T [--kind K --severity P1 --env prod ...]
  silence <add|query|expire> silences as amtool makes them: add alertname=X -c why -d 1h; query; expire <id>
  routes <show|test>         the notification routing tree: show; test --labels service=checkout,severity=P1
  health                     ask ops.health (queue depth per consumer)
  verify [--node ID]         check a running node (gateway, health, status, backends, auth); --compare-node/--compare-with for parity
  crontab [trigger <task>]   print ops/task_registry.yml as a system crontab (trigger: publish a task's slot)
  tail [subject]             print events (default ops.events.>) one per line: --json, --count N
  job <run|cancel|get|runs|export>  governance job runs through jobs_tool (run --wait, export --out DIR)
  demo [--alerts N]          publish an alert storm against a running stack and show what it became

Every command explains itself: opsbus <command> --help

Environment: NATS_URL, OPS_ENV (dev|staging|prod), DATA_DIR, CONFIG_DIR, ALERT_BACKEND, AUDIT_BACKEND,
DATABASE_URL (or ALERT_DATABASE_URL, AUDIT_DATABASE_URL), OPSBUS_API_KEYS (agent=key,...).`;
};

type Handler = (args: string[]) => Promise<number>;

const commands: Record<string, Handler> = {
  async start(args) {
    const { printHelp, START_HELP, wantsHelp } = await import("./cli/help.js");
    if (wantsHelp(args)) return printHelp(START_HELP);
    const [{ runUntilSignal }, { ROLES }] = await Promise.all([import("./main.js"), import("./app/roles.js")]);
    return runUntilSignal(ROLES, { allowLocalNats: true });
  },
  async worker(args) {
    const [{ printHelp, WORKER_HELP, wantsHelp }, { ROLES, resolveRole }] = await Promise.all([import("./cli/help.js"), import("./app/roles.js")]);
    if (wantsHelp(args)) return printHelp(WORKER_HELP);
    const resolved = args[0] ? resolveRole(args[0]) : undefined;
    if (!resolved) {
      console.error(`opsbus worker: name one of ${ROLES.join(", ")} (opsbus worker --help)`);
      return 2;
    }
    const [{ runUntilSignal }, { createLogger }] = await Promise.all([import("./main.js"), import("./log.js")]);
    if (resolved.deprecated) {
      createLogger().warn({ role: resolved.deprecated, use: resolved.role }, `role "${resolved.deprecated}" is deprecated: it runs "${resolved.role}"; name that instead`);
    }
    return runUntilSignal([resolved.role]);
  },
  async migrate(args) {
    const { runMigrate } = await import("./cli/migrate.js");
    return runMigrate(args);
  },
  async tool(args) {
    const { runTool } = await import("./cli/tool.js");
    return runTool(args);
  },
  async alert(args) {
    const { runAlert } = await import("./cli/alert.js");
    return runAlert(args);
  },
  async silence(args) {
    const { runSilence } = await import("./cli/silence.js");
    return runSilence(args);
  },
  async routes(args) {
    const { runRoutes } = await import("./cli/routes.js");
    return runRoutes(args);
  },
  async crontab(args) {
    const { runCrontab } = await import("./cli/crontab.js");
    return runCrontab(args);
  },
  async tail(args) {
    const { runTail } = await import("./cli/tail.js");
    return runTail(args);
  },
  async job(args) {
    const { runJob } = await import("./cli/job.js");
    return runJob(args);
  },
  async demo(args) {
    const { runDemo } = await import("./cli/demo.js");
    return runDemo(args);
  },
  async verify(args) {
    const { runVerify } = await import("./cli/verify.js");
    return runVerify(args);
  },
  async health(args) {
    // cli/help.js's wantsHelp, tested here without loading help.js (which loads every role).
    if (args.includes("--help") || args.includes("-h") || args[0] === "help") {
      const { HEALTH_HELP, printHelp } = await import("./cli/help.js");
      return printHelp(HEALTH_HELP);
    }
    const { runHealth } = await import("./cli/tool.js");
    return runHealth(args);
  },
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `opsbus help job` = `opsbus job --help`
  if (command === "help" && rest[0] && commands[rest[0]]) return commands[rest[0]]!(["--help"]);
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(await usage());
    return command ? 0 : 2;
  }
  const handler = commands[command];
  if (!handler) {
    console.error(`opsbus: unknown command "${command}"\n\n${await usage()}`);
    return 2;
  }
  return handler(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(`opsbus: ${(err as Error).message ?? err}`);
    process.exit(1);
  },
);

