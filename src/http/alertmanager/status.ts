/**
 * `GET /api/v2/status`, `/-/healthy` and `/-/ready` as Alertmanager answers them. The status's
 * `config.original` is an Alertmanager configuration describing what opsbus does (one receiver,
 * the resolve timeout), so `amtool config show` and anything that parses it get a valid one.
 */
import { VERSION } from "../../version.js";
import type { AlertmanagerDeps } from "./deps.js";
import { resolveTimeoutMinutes } from "./read.js";

/** What `amtool config show` prints: valid Alertmanager YAML (`amtool check-config` accepts it). */
export function configYaml(d: Pick<AlertmanagerDeps, "policies">): string {
  const receiver = JSON.stringify(d.policies.intake.alertmanager.receiver);
  return [
    "global:",
    `  resolve_timeout: ${resolveTimeoutMinutes(d.policies)}m`,
    "route:",
    `  receiver: ${receiver}`,
    "  continue: false",
    "receivers:",
    `- name: ${receiver}`,
    "templates: []",
    "",
  ].join("\n");
}

/** Alertmanager's status. `versionInfo.version` is opsbus's semver; the Go build fields name the runtime instead. */
export function statusOf(d: Pick<AlertmanagerDeps, "policies">, startedAt: Date, nodeId: string): unknown {
  return {
    cluster: { name: nodeId, peers: [], status: "ready" },
    config: { original: configYaml(d) },
    uptime: startedAt.toISOString(),
    versionInfo: {
      branch: "",
      buildDate: "",
      buildUser: "opsbus",
      goVersion: `node ${process.versions.node}`,
      revision: "",
      version: VERSION,
    },
  };
}

const READY_TIMEOUT_MS = 2000;

/** True when JetStream answers an account-info request in time. */
export async function jetstreamAnswers(d: Pick<AlertmanagerDeps, "jsm">): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)));
  try {
    return await Promise.race([d.jsm.getAccountInfo().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
