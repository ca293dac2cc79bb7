/**
 * Shell commands from the docs, and running commands as child processes: for the docs check
 * (test/integration/docs-commands.test.ts) and the CLI tests.
 *
 * Extraction: every line of a ```bash / ```sh block is a command, except comments and blank
 * lines; a trailing `\` joins the next line. In a transcript block (some line starts with `$ `)
 * only the `$ ` lines are commands, the rest is their output.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { reapAtExit } from "./reaper.js";

export interface DocCommand {
  /** `README.md:12` */
  where: string;
  file: string;
  line: number;
  command: string;
}

export function extractCommands(file: string, text = readFileSync(file, "utf8")): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(bash|sh|shell|console)\s*$/.test(lines[i]!.trim())) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!.trim())) end++;
    const block = lines.slice(start, end);
    const transcript = block.some((l) => l.startsWith("$ "));
    let pending: { line: number; text: string } | undefined;
    block.forEach((raw, k) => {
      const lineNo = start + k + 1;
      let text = raw.trim();
      if (!pending) {
        if (transcript) {
          if (!raw.startsWith("$ ")) return;
          text = raw.slice(2).trim();
        }
        if (!text || text.startsWith("#")) return;
      }
      const joined = pending ? `${pending.text} ${text}` : text;
      if (joined.endsWith("\\")) pending = { line: pending?.line ?? lineNo, text: joined.slice(0, -1).trimEnd() };
      else {
        out.push({ where: `${file}:${pending?.line ?? lineNo}`, file, line: pending?.line ?? lineNo, command: joined });
        pending = undefined;
      }
    });
    i = end;
  }
  return out;
}

/** `a && b` → [a, b], so each step can be run or allow-listed on its own (quotes respected). */
export function splitSteps(command: string): string[] {
  const steps: string[] = [];
  let quote: string | undefined;
  let cur = "";
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "&" && command[i + 1] === "&") {
      steps.push(cur.trim());
      cur = "";
      i++;
      continue;
    }
    cur += c;
  }
  steps.push(cur.trim());
  return steps.filter(Boolean);
}

/** Strips a trailing `# comment` outside quotes. */
export function stripComment(command: string): string {
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(command[i - 1]!))) return command.slice(0, i).trimEnd();
  }
  return command;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (bash -c, or an argv) to its end; killed after `timeoutMs`. */
export function runCommand(argv: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; onStdout?: (text: string) => void; onStderr?: (text: string) => void } = {}): Promise<CommandResult> & { kill(): void; terminate(): void } {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  reapAtExit(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
    opts.onStdout?.(stdout);
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    opts.onStderr?.(stderr);
  });
  // A process group, so a timeout also ends what the command started (npm → tsx → node).
  const kill = (signal: NodeJS.Signals = "SIGKILL") => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    stderr += `\n[killed after ${opts.timeoutMs} ms]`;
    kill();
  }, opts.timeoutMs ?? 60_000);
  const done = new Promise<CommandResult>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  ) as Promise<CommandResult> & { kill(): void; terminate(): void };
  done.kill = () => kill("SIGTERM");
  // Only the top process, the way a service manager stops it: it forwards to its children itself.
  done.terminate = () => child.kill("SIGTERM");
  return done;
}

/** `bin/opsbus <args>` as a child process. */
export function runOpsbus(args: string[], env: Record<string, string>, opts: { timeoutMs?: number; onStderr?: (text: string) => void } = {}) {
  return runCommand([process.execPath, "bin/opsbus", ...args], { env: { LOG_LEVEL: "warn", OPSBUS_START_NATS: "0", OPSBUS_INGEST_NICE: "0", ...env }, ...opts });
}
