/**
 * A real vmalert (VictoriaMetrics's rule evaluator, Debian's `victoria-metrics` package) for
 * integration tests: started on loopback with a rule file, evaluating against a query stub the
 * test serves (Prometheus's instant-query API answering one series or none, as the test says), and
 * sending what fires to an Alertmanager (opsbus's HTTP listener).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./ports.js";
import { scrapeSum } from "./prometheus.js";
import { startDaemon } from "./daemon.js";
import { removeAtExit } from "./reaper.js";

export const VMALERT_BIN = process.env.VMALERT_BIN ?? "vmalert";

/** `POST|GET /api/v1/query`: a vector of `series` (value 1) while set, else an empty vector. */
export interface QueryStub {
  url: string;
  set(series: Record<string, string> | null): void;
  queries(): number;
  close(): Promise<void>;
}

export async function startQueryStub(): Promise<QueryStub> {
  let series: Record<string, string> | null = null;
  let queries = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    if (url.pathname !== "/api/v1/query") return void res.writeHead(404).end();
    queries += 1;
    const time = Number(url.searchParams.get("time") ?? Date.now() / 1000);
    const result = series ? [{ metric: series, value: [time, "1"] }] : [];
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "success", data: { resultType: "vector", result } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (s) => void (series = s),
    queries: () => queries,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface VmalertOptions {
  /** Rule groups, as in a rule file's `groups:`. */
  ruleGroups: unknown[];
  datasourceUrl: string;
  /** The Alertmanager's base URL, and the bearer key vmalert sends. */
  notifier: { url: string; bearer?: string };
  /** Evaluation interval (default 1s). */
  interval?: string;
}

export interface VmalertHandle {
  /** A counter or gauge from vmalert's own /metrics (summed over its series); 0 when absent. */
  selfMetric(name: string): Promise<number>;
  log(): string;
  stop(): Promise<void>;
}

export async function startVmalert(opts: VmalertOptions): Promise<VmalertHandle> {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-vmalert-"));
  removeAtExit(dir);
  const rules = join(dir, "rules.yml");
  writeFileSync(rules, stringify({ groups: opts.ruleGroups }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `-rule=${rules}`, `-datasource.url=${opts.datasourceUrl}`, `-notifier.url=${opts.notifier.url}`,
    ...(opts.notifier.bearer ? [`-notifier.bearerToken=${opts.notifier.bearer}`] : []),
    `-evaluationInterval=${opts.interval ?? "1s"}`, `-httpListenAddr=127.0.0.1:${port}`,
  ];
  const daemon = await startDaemon({ bin: VMALERT_BIN, args, dir, readyUrl: `${url}/health`, hint: "apt-get install victoria-metrics" });
  return { log: daemon.log, stop: daemon.stop, selfMetric: (name) => scrapeSum(`${url}/metrics`, name) };
}
