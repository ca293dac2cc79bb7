/**
 * A real Alertmanager 0.25 (Debian prometheus-alertmanager) on a free loopback port, no clustering:
 * the peer replies are compared with, or a real client of opsbus's intake when `config` routes
 * its notifications there (e.g. a `pagerduty_configs` receiver whose `url` is opsbus's).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "./daemon.js";
import { freePort } from "./ports.js";
import { scrapeSum } from "./prometheus.js";
import { removeAtExit } from "./reaper.js";

const QUIET = "route:\n  receiver: opsbus\nreceivers:\n  - name: opsbus\n";

export interface RealAlertmanager {
  url: string;
  /** A counter or gauge from its own /metrics (summed over its series); 0 when absent. */
  metric(name: string): Promise<number>;
  log(): string;
  stop(): Promise<void>;
}

export async function startRealAlertmanager(config = QUIET): Promise<RealAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-real-am-"));
  removeAtExit(dir);
  writeFileSync(join(dir, "am.yml"), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [`--config.file=${join(dir, "am.yml")}`, `--storage.path=${join(dir, "am-data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="];
  const daemon = await startDaemon({ bin: "prometheus-alertmanager", args, dir, readyUrl: `${url}/-/ready`, hint: "apt-get install prometheus-alertmanager" });
  return { url, log: daemon.log, stop: daemon.stop, metric: (name) => scrapeSum(`${url}/metrics`, name) };
}
