/**
 * A throwaway Prometheus Alertmanager (Debian's `prometheus-alertmanager`) that notifies a webhook:
 * one aggregation group per alert (`group_by: [alertname]`, every alert its own alertname), sent
 * as soon as the group exists (`group_wait: 0s`, `group_interval: 1s`), clustering off.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../test/harness/ports.js";
import { hasExited, reapAtExit } from "../../test/harness/reaper.js";
import { waitFor } from "../../test/harness/wait.js";
import type { Cleanup } from "./cleanup.js";
import { sampleRss, type RssSampler } from "./rss.js";

export interface WebhookAlertmanager {
  url: string;
  memory: RssSampler;
  /** SIGTERM and wait: its aggregation groups keep ticking (CPU) while it runs. */
  stop(): Promise<void>;
}

const config = (webhookUrl: string) => `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs:
      - url: ${JSON.stringify(webhookUrl)}
        send_resolved: false
`;

export async function startWebhookAlertmanager(bin: string, tmpRoot: string, webhookUrl: string, cleanup: Cleanup): Promise<WebhookAlertmanager> {
  const dir = mkdtempSync(join(tmpRoot, "alertmanager-webhook-"));
  writeFileSync(join(dir, "alertmanager.yml"), config(webhookUrl));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, "alertmanager.log");
  const fd = openSync(logFile, "a");
  const child: ChildProcess = spawn(
    bin,
    [`--config.file=${join(dir, "alertmanager.yml")}`, `--storage.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address=", "--log.level=warn"],
    { stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  reapAtExit(child);
  const memory = sampleRss(child.pid!);
  const stop = async () => {
    memory.stop();
    if (hasExited(child)) return;
    const exit = once(child, "exit");
    child.kill("SIGTERM");
    await exit;
  };
  cleanup.defer("stop alertmanager (webhook)", stop);
  await waitFor(async () => {
    if (hasExited(child)) throw new Error(`alertmanager exited: ${readFileSync(logFile, "utf8").slice(-2000)}`);
    return (await fetch(`${url}/-/ready`).catch(() => null))?.ok ?? false;
  }, { timeoutMs: 20_000, message: "alertmanager ready" });
  return { url, memory, stop };
}
