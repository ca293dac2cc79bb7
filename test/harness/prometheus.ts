/**
 * A real Prometheus (Debian's `prometheus`) for integration tests: started on loopback with a temp
 * config and storage dir, scraping targets the test serves, optionally evaluating a rule file and
 * sending its alerts to an Alertmanager (opsbus's HTTP listener). Also a tiny exporter whose gauge
 * values the test sets, so a rule's expression flips when the test says so.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./ports.js";
import { startDaemon } from "./daemon.js";
import { removeAtExit } from "./reaper.js";

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "prometheus";

/** Gauges served on `/metrics` in the text format; `set` changes what the next scrape sees. */
export interface Exporter {
  /** `127.0.0.1:<port>`, as a scrape target. */
  target: string;
  set(name: string, labels: Record<string, string>, value: number): void;
  scrapes(): number;
  close(): Promise<void>;
}

export async function startExporter(): Promise<Exporter> {
  const gauges = new Map<string, Map<string, number>>();
  let scrapes = 0;
  const render = () => {
    const lines: string[] = [];
    for (const [name, series] of gauges) {
      lines.push(`# TYPE ${name} gauge`);
      for (const [labels, value] of series) lines.push(`${name}${labels} ${value}`);
    }
    return `${lines.join("\n")}\n`;
  };
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    scrapes += 1;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(render());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    target: `127.0.0.1:${port}`,
    set(name, labels, value) {
      const key = `{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
      if (!gauges.has(name)) gauges.set(name, new Map());
      gauges.get(name)!.set(key, value);
    },
    scrapes: () => scrapes,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A counter or gauge on a Prometheus-format `/metrics` page, summed over its series; 0 when absent. */
export async function scrapeSum(metricsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

export interface PrometheusOptions {
  /** Scrape targets (`host:port`), one job `exporter`. */
  targets: string[];
  /** Rule groups, as in a rule file's `groups:` (written to rules.yml). */
  ruleGroups?: unknown[];
  /** An Alertmanager (API v2) to send alerts to: `host:port`, with an optional bearer credential or Basic user and password. */
  alertmanager?: { target: string; bearer?: string; basic?: { username: string; password: string } };
  /** Scrape and rule evaluation interval (default 1s). */
  interval?: string;
  /** Extra command-line flags, e.g. `--rules.alert.resend-delay=1s`. */
  args?: string[];
  /**
   * One replica of an HA pair: external label `replica` set to this, and dropped from the alerts
   * it sends (`alert_relabel_configs`), so both replicas send the same label sets.
   */
  replica?: string;
}

/** One entry of Prometheus's own `GET /api/v1/alerts`. */
export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
  value: string;
}

export interface PrometheusHandle {
  url: string;
  /** The alerts Prometheus's rules hold now (firing or pending). */
  alerts(): Promise<PrometheusAlert[]>;
  /** A counter or gauge from Prometheus's own /metrics (summed over its series); 0 when absent. */
  selfMetric(name: string): Promise<number>;
  log(): string;
  stop(): Promise<void>;
}

function configYaml(dir: string, opts: PrometheusOptions): string {
  const interval = opts.interval ?? "1s";
  const config: Record<string, unknown> = {
    global: { scrape_interval: interval, evaluation_interval: interval, ...(opts.replica ? { external_labels: { replica: opts.replica } } : {}) },
    scrape_configs: [{ job_name: "exporter", static_configs: [{ targets: opts.targets }] }],
  };
  if (opts.ruleGroups) {
    const rules = join(dir, "rules.yml");
    writeFileSync(rules, stringify({ groups: opts.ruleGroups }));
    config.rule_files = [rules];
  }
  if (opts.alertmanager) {
    const am = opts.alertmanager;
    config.alerting = {
      alertmanagers: [{
        api_version: "v2",
        timeout: "5s",
        static_configs: [{ targets: [am.target] }],
        ...(am.bearer ? { authorization: { type: "Bearer", credentials: am.bearer } } : {}),
        ...(am.basic ? { basic_auth: am.basic } : {}),
      }],
      ...(opts.replica ? { alert_relabel_configs: [{ action: "labeldrop", regex: "replica" }] } : {}),
    };
  }
  return stringify(config);
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-prometheus-"));
  removeAtExit(dir);
  const port = await freePort();
  const config = join(dir, "prometheus.yml");
  writeFileSync(config, configYaml(dir, opts));
  const args = [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, ...(opts.args ?? [])];
  const url = `http://127.0.0.1:${port}`;
  const daemon = await startDaemon({ bin: PROMETHEUS_BIN, args, dir, readyUrl: `${url}/-/ready`, hint: "apt-get install prometheus" });
  return {
    url,
    log: daemon.log,
    async alerts() {
      const res = await fetch(`${url}/api/v1/alerts`, { signal: AbortSignal.timeout(2000) });
      return ((await res.json()) as { data: { alerts: PrometheusAlert[] } }).data.alerts;
    },
    selfMetric: (name) => scrapeSum(`${url}/metrics`, name),
    stop: daemon.stop,
  };
}
