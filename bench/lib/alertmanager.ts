/**
 * A throwaway Prometheus Alertmanager on loopback (Debian's `prometheus-alertmanager`), for the
 * side-by-side bench: its own config and storage dir, clustering off, killable with -9 and
 * restartable on the same port and storage.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../test/harness/ports.js";
import { hasExited, reapAtExit } from "../../test/harness/reaper.js";
import { waitFor } from "../../test/harness/wait.js";
import type { Cleanup } from "./cleanup.js";
import { sampleRss, type RssSampler } from "./rss.js";

const CANDIDATES = [process.env.ALERTMANAGER_BIN, "/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager"];

export function alertmanagerBinary(): string | null {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p)) ?? null;
}

/** Receivers that drop everything: the bench measures ingest and storage, not notification. */
const CONFIG = `route:
  receiver: blackhole
  group_by: [service]
receivers:
  - name: blackhole
`;

export interface Alertmanager {
  url: string;
  /** The current process's pid (a restart starts a new process). */
  pid(): number;
  /** Resident memory of the current process (a restart starts a new sampler). */
  memory(): RssSampler;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
  /** Start again on the same port and storage dir; resolves when ready. */
  restart(): Promise<void>;
}

export async function startAlertmanager(bin: string, tmpRoot: string, cleanup: Cleanup): Promise<Alertmanager> {
  const dir = mkdtempSync(join(tmpRoot, "alertmanager-"));
  writeFileSync(join(dir, "alertmanager.yml"), CONFIG);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, "alertmanager.log");
  let child: ChildProcess | null = null;
  let memory: RssSampler | null = null;

  const stopped = async (c: ChildProcess, signal: NodeJS.Signals) => {
    if (hasExited(c)) return;
    const exit = once(c, "exit");
    c.kill(signal);
    await exit;
  };
  const start = async () => {
    const fd = openSync(logFile, "a");
    const c = spawn(bin, [`--config.file=${join(dir, "alertmanager.yml")}`, `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address=", "--log.level=warn"], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    reapAtExit(c);
    child = c;
    memory?.stop();
    memory = sampleRss(c.pid!);
    await waitFor(async () => {
      if (hasExited(c)) throw new Error(`alertmanager exited: ${readFileSync(logFile, "utf8").slice(-2000)}`);
      const r = await fetch(`${url}/-/ready`).catch(() => null);
      return r?.ok ?? false;
    }, { timeoutMs: 20_000, message: "alertmanager ready" });
  };
  await start();
  cleanup.defer("stop alertmanager", () => child && stopped(child, "SIGTERM"));
  return {
    url,
    pid: () => child!.pid!,
    memory: () => memory!,
    kill9: () => stopped(child!, "SIGKILL"),
    restart: start,
  };
}

/** Active alerts Alertmanager holds now. */
export async function alertmanagerCount(url: string): Promise<number> {
  const r = await fetch(`${url}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`);
  if (!r.ok) throw new Error(`GET /api/v2/alerts: HTTP ${r.status}`);
  return ((await r.json()) as unknown[]).length;
}

/** The values of `label` over the alerts Alertmanager holds now (e.g. which of a set survived). */
export async function alertmanagerLabelValues(url: string, label: string): Promise<Set<string>> {
  const r = await fetch(`${url}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`);
  if (!r.ok) throw new Error(`GET /api/v2/alerts: HTTP ${r.status}`);
  const alerts = (await r.json()) as Array<{ labels: Record<string, string> }>;
  return new Set(alerts.map((a) => a.labels[label]).filter((v): v is string => v !== undefined));
}
