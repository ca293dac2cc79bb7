/**
 * `opsbus silence add|query|expire`: amtool's silence commands and flags, through silence_tool on
 * the gateway (so the same RBAC and audit as amtool over HTTP). The author is the key's agent
 * (or --agent in dev), never a flag: `--author` is accepted for amtool's muscle memory and ignored.
 */
import { durationMs } from "../util/duration.js";
import { parseArgs } from "node:util";
import type { Silence, SilenceState } from "../silences/silence.js";
import { cliConnection } from "./client.js";
import { toolCaller, ToolCallError, UsageError } from "./job-client.js";

export const SILENCE_HELP = `opsbus silence <add|query|expire> [options]   (amtool's flags)

  add <matchers...> -c COMMENT [-d 1h] [--start T] [--end T]
        Silence alerts whose labels match every matcher (name=value, name!=value,
        name=~"regex", name!~"regex"; a first bare word means alertname=<word>) from --start
        (default now) for --duration (1h; y w d h m s ms, e.g. 1d12h) or until --end (RFC 3339).
        Prints the silence id. --author is ignored: the silence is created by the caller.
  query [matchers...] [--expired] [-q]
        Active and pending silences whose matchers include these (exactly); --expired shows the
        expired ones instead (kept for alerts.silence_retention_hours); -q prints ids only.
  expire <id...>
        Ends each silence now (idempotent). Exit 1 if any id is unknown.

Common: --agent ID  --key KEY (default $OPSBUS_KEY)  -o simple|json  --timeout MS
Needs tools.silences.write (add, expire) or tools.silences.read (query): config/rbac_tools_matrix.yml.
Example: opsbus silence add alertname=HighLatency service=~"check.*" -c "deploy 4711" -d 30m --agent helion`;

/** Prometheus's duration syntax, as amtool reads --duration: `1h`, `1d12h`, `90m`, `1w`. */
export function parseDuration(text: string): number {
  const ms = durationMs(text);
  if (ms === undefined) throw new UsageError(`not a valid duration string: "${text}" (e.g. 30m, 2h, 1d12h)`);
  if (ms <= 0) throw new UsageError(`duration must be positive: "${text}"`);
  return ms;
}

/** amtool's matcher arguments: a first argument with no operator is the alertname. */
export function matcherArgs(args: readonly string[]): string[] {
  return args.map((a, i) => (i === 0 && !/(=~|!~|!=|=)/.test(a) ? `alertname=${a}` : a));
}

function rfc3339(name: string, raw: string): string {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw new UsageError(`${name} must be RFC 3339, e.g. 2026-03-02T15:04:05+01:00: got "${raw}"`);
  }
  return new Date(Date.parse(raw)).toISOString();
}

type Stated = Silence & { state: SilenceState };

const matcherText = (m: Silence["matchers"][number]) => `${m.name}${m.is_equal ? "=" : "!"}${m.is_regex ? "~" : m.is_equal ? "" : "="}${JSON.stringify(m.value)}`;

/** amtool's simple table: ID, Matchers, Ends At, Created By, Comment. */
export function silenceTable(silences: readonly Stated[]): string {
  const rows = [["ID", "Matchers", "Ends At", "Created By", "Comment"], ...silences.map((s) => [s.id, s.matchers.map(matcherText).join(" "), s.ends_at.replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC"), s.created_by, s.comment])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ")).join("\n");
}

export async function runSilence(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      comment: { type: "string", short: "c" },
      duration: { type: "string", short: "d", default: "1h" },
      start: { type: "string" },
      end: { type: "string" },
      author: { type: "string", short: "a" },
      expired: { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
      output: { type: "string", short: "o", default: "simple" },
      agent: { type: "string" },
      key: { type: "string" },
      timeout: { type: "string", default: "10000" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command || !["add", "query", "expire"].includes(command)) {
    console.log(SILENCE_HELP);
    return values.help ? 0 : 2;
  }
  if (values.output !== "simple" && values.output !== "json") {
    console.error(`-o must be simple or json, got "${values.output}"`);
    return 2;
  }
  try {
    const request = await plan(command, rest, values);
    const { nc, subjects } = await cliConnection();
    try {
      const call = toolCaller(nc, subjects, { ...(values.agent ? { agent: values.agent } : {}), ...(values.key ? { key: values.key } : {}), timeoutMs: Number(values.timeout) });
      return await request(call, values.output === "json");
    } finally {
      await nc.close();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`opsbus silence ${command}: ${err.message}`);
      return 2;
    }
    if (err instanceof ToolCallError) {
      console.error(`opsbus silence ${command}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

type Values = { comment?: string; duration: string; start?: string; end?: string; author?: string; expired?: boolean; quiet?: boolean };
type Request = (call: ReturnType<typeof toolCaller>, json: boolean) => Promise<number>;

/** Checks the command line before connecting; returns what to ask the gateway. */
async function plan(command: string, rest: string[], v: Values): Promise<Request> {
  if (command === "add") {
    if (rest.length === 0) throw new UsageError("at least one matcher is required, e.g. alertname=HighLatency");
    if (!v.comment) throw new UsageError("a comment is required (-c / --comment): say why, e.g. the change or ticket");
    if (v.author) console.error(`opsbus silence add: --author is ignored; the silence is created by the calling agent`);
    const start = v.start ? rfc3339("--start", v.start) : undefined;
    const ends = v.end ? rfc3339("--end", v.end) : new Date((start ? Date.parse(start) : Date.now()) + parseDuration(v.duration)).toISOString();
    const params = { matchers: matcherArgs(rest), ...(start ? { starts_at: start } : {}), ends_at: ends, comment: v.comment };
    return async (call, json) => {
      const r = await call<{ silence_id: string }>("silence_tool", "create", params);
      console.log(json ? JSON.stringify(r, null, 2) : r.silence_id);
      return 0;
    };
  }
  if (command === "query") {
    const params = { filter: matcherArgs(rest), state: v.expired ? ["expired"] : ["active", "pending"] };
    return async (call, json) => {
      const r = await call<{ silences: Stated[] }>("silence_tool", "list", params);
      if (json) console.log(JSON.stringify(r.silences, null, 2));
      else if (v.quiet) for (const s of r.silences) console.log(s.id);
      else console.log(silenceTable(r.silences));
      return 0;
    };
  }
  if (rest.length === 0) throw new UsageError("name at least one silence id");
  return async (call, json) => {
    let failed = 0;
    for (const id of rest) {
      try {
        const r = await call<{ changed: boolean }>("silence_tool", "expire", { id });
        if (json) console.log(JSON.stringify({ id, ...r }));
      } catch (err) {
        if (!(err instanceof ToolCallError)) throw err;
        console.error(`opsbus silence expire ${id}: ${err.message}`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  };
}
