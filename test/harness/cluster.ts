/**
 * A throwaway 3-node NATS JetStream cluster on loopback, for failover tests: each node has its
 * own config file, store dir and fixed ports (client, route, monitoring), so a node killed with
 * SIGKILL comes back on the same address with the same JetStream store, as a crashed host would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JetStreamManager } from "@nats-io/jetstream";
import { canConnect } from "./ports.js";
import { hasExited, readTail, reapAtExit, removeAtExit, removed, stopChild } from "./reaper.js";
import { waitFor } from "./wait.js";

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "nats-server";
/** Meta leader election and route mesh on a busy 2-core machine take a few seconds. */
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
/**
 * Ports come from below Linux's ephemeral range (32768+): while a node is down, an outgoing
 * connection of some other process could otherwise take its port and the restart would fail.
 */
const PORT_RANGE = { from: 20_000, to: 32_000 } as const;

export interface ClusterNode {
  /** `server_name`, also what stream info names as a leader or replica. */
  name: string;
  url: string;
  port: number;
  storeDir: string;
  readonly running: boolean;
  readonly pid: number;
  /** SIGKILL and wait for the exit: a crash, the node's store must recover on restart. */
  kill9(): Promise<void>;
  /** Start again (SIGTERM first if running) on the same ports and store; resolves once the node is back in the meta group (its streams may still be catching up). */
  restart(): Promise<void>;
  /** `ok` once the node's JetStream assets are all current (`/healthz`), else the server's reason. */
  healthz(): Promise<string>;
  /** Names of the client connections this node holds (`/connz`), e.g. `opsbus@ingest`. */
  connections(): Promise<string[]>;
  log(): string;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** All client URLs, comma-separated, as NATS_URL takes them. */
  url: string;
  urls: string[];
  node(name: string): ClusterNode;
  /** The node leading `stream` (its `server_name`), asked through `jsm`; waits out an election. */
  streamLeader(jsm: JetStreamManager, stream: string): Promise<ClusterNode>;
  /** Stops every node and removes the store dirs. */
  cleanup(): Promise<void>;
}

interface Ports {
  client: number;
  route: number;
  http: number;
}

function configText(name: string, ports: Ports, storeDir: string, routes: number[]): string {
  return [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${ports.client}`,
    `http: 127.0.0.1:${ports.http}`,
    `jetstream {`,
    `  store_dir: "${join(storeDir, "js")}"`,
    `  max_memory_store: 256MB`,
    `  max_file_store: 4GB`,
    `}`,
    `cluster {`,
    `  name: opsbus-test`,
    `  listen: 127.0.0.1:${ports.route}`,
    `  routes: [`,
    ...routes.map((p) => `    nats-route://127.0.0.1:${p}`),
    `  ]`,
    `}`,
  ].join("\n");
}

/** A port in PORT_RANGE nobody listens on right now. */
async function stablePort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${PORT_RANGE.from}-${PORT_RANGE.to} after 100 tries`);
}

/** The meta group as this node sees it: its leader and how many peers it knows. */
async function metaView(httpPort: number): Promise<{ leader?: string; size: number } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/jsz`, { signal: AbortSignal.timeout(2000) });
    const m = ((await res.json()) as { meta_cluster?: { leader?: string; cluster_size?: number } }).meta_cluster;
    return m ? { ...(m.leader ? { leader: m.leader } : {}), size: m.cluster_size ?? 0 } : undefined;
  } catch {
    return undefined;
  }
}

function makeNode(name: string, ports: Ports, storeDir: string, configFile: string): ClusterNode & { launch(): Promise<void>; stop(): Promise<void> } {
  const logFile = join(storeDir, "nats-server.log");
  let current: ChildProcess | undefined;
  let lastPid = -1;

  async function launch(): Promise<void> {
    const logFd = openSync(logFile, "a");
    const child = spawn(NATS_SERVER_BIN, ["-c", configFile], { stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    child.unref(); // the exit hook kills it; it must not keep the test process alive
    child.on("error", () => {});
    if (child.pid === undefined) {
      const [err] = (await once(child, "error")) as [Error];
      throw new Error(`could not run ${NATS_SERVER_BIN} (${err.message}); install nats-server or set NATS_SERVER_BIN`);
    }
    reapAtExit(child, "SIGKILL");
    current = child;
    lastPid = child.pid;
    const outcome = await waitFor(async () => (hasExited(child) ? "exited" : (await canConnect(ports.client)) && "up"), {
      timeoutMs: READY_TIMEOUT_MS,
      message: `${name} to accept connections`,
    }).catch((err: Error) => err.message);
    if (outcome !== "up") throw new Error(`${name} did not start (${outcome})\n--- ${name} log ---\n${readTail(logFile)}`);
  }

  async function terminate(signal: NodeJS.Signals): Promise<void> {
    const child = current;
    current = undefined;
    if (child) await stopChild(child, signal, STOP_GRACE_MS);
  }

  const node = {
    name,
    url: `nats://127.0.0.1:${ports.client}`,
    port: ports.client,
    storeDir,
    get running() {
      return current !== undefined && !hasExited(current);
    },
    get pid() {
      return lastPid;
    },
    kill9: () => terminate("SIGKILL"),
    async restart() {
      await terminate("SIGTERM");
      await launch();
      await waitFor(async () => (await metaView(ports.http))?.leader, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200, message: `${name} back in the JetStream meta group` }).catch(
        (err: Error) => {
          throw new Error(`${err.message}\n--- ${name} log ---\n${readTail(logFile)}`);
        },
      );
    },
    healthz: () =>
      fetch(`http://127.0.0.1:${ports.http}/healthz`, { signal: AbortSignal.timeout(2000) })
        .then(async (r) => (r.ok ? "ok" : await r.text()))
        .catch((err: Error) => `no answer: ${err.message}`),
    async connections() {
      const res = await fetch(`http://127.0.0.1:${ports.http}/connz?limit=1024`, { signal: AbortSignal.timeout(2000) });
      return (((await res.json()) as { connections?: Array<{ name?: string }> }).connections ?? []).map((c) => c.name ?? "");
    },
    log: () => readTail(logFile, Number.MAX_SAFE_INTEGER),
    launch,
    stop: () => terminate("SIGTERM"),
  };
  return node;
}

/** Starts three nodes and resolves once all three are in the JetStream meta group under one leader. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const ports: Ports[] = [];
  const taken = new Set<number>();
  for (let i = 0; i < size; i++) ports.push({ client: await stablePort(taken), route: await stablePort(taken), http: await stablePort(taken) });
  const routes = ports.map((p) => p.route);
  const nodes = ports.map((p, i) => {
    const name = `n${i + 1}`;
    const storeDir = mkdtempSync(join(tmpdir(), `opsbus-cluster-${name}-`));
    removeAtExit(storeDir);
    const configFile = join(storeDir, "server.conf");
    writeFileSync(configFile, configText(name, p, storeDir, routes));
    return makeNode(name, p, storeDir, configFile);
  });
  const cleanup = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) {
      rmSync(n.storeDir, { recursive: true, force: true, maxRetries: 3 });
      removed(n.storeDir);
    }
  };
  try {
    await Promise.all(nodes.map((n) => n.launch()));
    await waitFor(async () => {
      const views = await Promise.all(ports.map((p) => metaView(p.http)));
      const leaders = new Set(views.map((v) => v?.leader));
      const agreed = views.every((v) => v?.leader && v.size === size) && leaders.size === 1;
      // /healthz: the node's JetStream is caught up with the meta group.
      return agreed && (await Promise.all(nodes.map((n) => n.healthz()))).every((h) => h === "ok");
    }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200, message: `a JetStream meta leader over all ${size} nodes` });
  } catch (err) {
    const logs = nodes.map((n) => `--- ${n.name} ---\n${readTail(join(n.storeDir, "nats-server.log"), 2000)}`).join("\n");
    await cleanup();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }

  const byName = (name: string) => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no cluster node named ${name} (have ${nodes.map((x) => x.name).join(", ")})`);
    return n;
  };
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    url: nodes.map((n) => n.url).join(","),
    node: byName,
    async streamLeader(jsm, stream) {
      const leader = await waitFor(async () => (await jsm.streams.info(stream)).cluster?.leader, {
        timeoutMs: READY_TIMEOUT_MS,
        intervalMs: 100,
        message: `a leader for stream ${stream}`,
      });
      return byName(leader);
    },
    cleanup,
  };
}
