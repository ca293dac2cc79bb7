/** A real Alertmanager 0.25 (Debian prometheus-alertmanager) on a free loopback port, no clustering: the peer replies are compared with. */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";

export async function startRealAlertmanager(dir: string): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  writeFileSync(join(dir, "am.yml"), "route:\n  receiver: opsbus\nreceivers:\n  - name: opsbus\n");
  const child = spawn("prometheus-alertmanager", [`--config.file=${join(dir, "am.yml")}`, `--storage.path=${join(dir, "am-data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok ? true : undefined), { message: "alertmanager ready" });
  return { url, stop: () => void child.kill("SIGKILL") };
}
