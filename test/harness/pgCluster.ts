import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";
import { forget, hasExited, readTail, reapAtExit, removeAtExit, removed, stopChild } from "./reaper.js";

const READY_TIMEOUT_MS = 30_000;
/** After this long a stopping postmaster gets SIGKILL, so stop() cannot hang a test. */
const STOP_GRACE_MS = 15_000;
/** Small and unsafe on purpose: a throwaway cluster should start fast and use little memory. */
const SERVER_SETTINGS = [
  "listen_addresses=127.0.0.1",
  "shared_buffers=16MB",
  "max_connections=50",
  "fsync=off",
  "synchronous_commit=off",
  "full_page_writes=off",
  "logging_collector=off",
];

export interface PgClusterHandle {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth); the same across restarts. */
  url: string;
  port: number;
  dataDir: string;
  /** Shut the server down and wait: "fast" (default) rolls back and disconnects clients; "immediate" is crash-like. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Start again on the same port and data dir; resolves once it answers queries. */
  start(): Promise<void>;
  /** Stop and remove all temp dirs. */
  destroy(): Promise<void>;
  /** The server's log so far, for failure messages. */
  log(): string;
}

/** PG_BIN_DIR, else the newest Debian-style /usr/lib/postgresql/<major>/bin, else `pg_config --bindir`. */
function findPgBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const debianRoot = "/usr/lib/postgresql";
  if (existsSync(debianRoot)) {
    const majors = readdirSync(debianRoot)
      .filter((major) => existsSync(join(debianRoot, major, "bin", "postgres")))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0]) return join(debianRoot, majors[0], "bin");
  }
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("PostgreSQL server binaries not found: install postgresql or set PG_BIN_DIR");
  }
}

/** postgres refuses to run as root, so as root we run initdb and the server as the `postgres` OS user. */
function serverIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new Error("running as root but there is no `postgres` OS user to run the throwaway cluster as");
  }
}


async function answersQueries(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false; // refused, or "the database system is starting up"
  } finally {
    await client.end().catch(() => {});
  }
}

/** initdb a throwaway cluster (trust auth) in a temp dir and start it on a free port. */
export async function startPgCluster(): Promise<PgClusterHandle> {
  const binDir = findPgBinDir();
  const identity = serverIdentity();
  const rootDir = mkdtempSync(join(tmpdir(), "opsbus-pg-"));
  removeAtExit(rootDir);
  if (identity) chownSync(rootDir, identity.uid, identity.gid);
  const dataDir = join(rootDir, "data");
  const logFile = join(rootDir, "postgres.log");
  // cwd inside the temp dir: the postgres user may not be allowed into ours.
  const runAs = { ...identity, cwd: rootDir };

  try {
    await promisify(execFile)(
      join(binDir, "initdb"),
      ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
      runAs,
    );
  } catch (err) {
    rmSync(rootDir, { recursive: true, force: true });
    removed(rootDir);
    const e = err as Error & { stderr?: string };
    throw new Error(`initdb failed: ${e.message}\n${e.stderr ?? ""}`);
  }

  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let postmaster: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (postmaster) return;
    const args = ["-D", dataDir, "-p", String(port), "-k", rootDir, ...SERVER_SETTINGS.flatMap((s) => ["-c", s])];
    const logFd = openSync(logFile, "a");
    // The postmaster itself (not pg_ctl, which daemonises) so it is our child: we see its exit and reap it.
    const child = spawn(join(binDir, "postgres"), args, { ...runAs, stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    child.unref(); // a forgotten cluster must not keep the test process alive; the exit hook stops it
    child.on("error", () => {}); // e.g. a failed kill(); the exit is what we act on
    if (child.pid === undefined) {
      const [err] = (await once(child, "error")) as [Error];
      throw new Error(`could not run ${join(binDir, "postgres")} (${err.message}); set PG_BIN_DIR`);
    }
    reapAtExit(child, "SIGQUIT"); // SIGQUIT = immediate shutdown of the whole cluster
    postmaster = child;

    const ready = await waitFor(
      async () => (hasExited(child) ? "exited" : (await answersQueries(url)) && "ready"),
      { timeoutMs: READY_TIMEOUT_MS, message: `postgres on port ${port} to answer queries` },
    ).catch(async (err: Error) => {
      await stop("immediate");
      throw new Error(`${err.message}\n--- postgres log ---\n${readTail(logFile)}`);
    });
    if (ready === "exited") {
      forget(child);
      postmaster = undefined;
      throw new Error(`postgres exited during startup (port ${port})\n--- log ---\n${readTail(logFile)}`);
    }
  }

  async function stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    const child = postmaster;
    postmaster = undefined;
    // What `pg_ctl stop -m <mode>` sends.
    if (child) await stopChild(child, mode === "fast" ? "SIGINT" : "SIGQUIT", STOP_GRACE_MS);
  }

  await start().catch((err: unknown) => {
    rmSync(rootDir, { recursive: true, force: true, maxRetries: 3 });
    removed(rootDir);
    throw err;
  });

  return {
    url,
    port,
    dataDir,
    stop,
    start,
    async destroy() {
      await stop("immediate");
      rmSync(rootDir, { recursive: true, force: true, maxRetries: 3 });
      removed(rootDir);
    },
    log: () => readTail(logFile, Number.MAX_SAFE_INTEGER),
  };
}
