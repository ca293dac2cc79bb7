/**
 * `npm start` runs npm → sh → node. A kill -9 of npm's pid (the pid a supervisor or a user
 * holds) reaches neither the shell nor node, which would go on as an orphan worker, still
 * holding its consumers and its data dir. Node cannot ask the kernel for a signal when its
 * parent dies (no PDEATHSIG), so a process launched by a package-manager script watches its
 * launcher instead: the parent, and up through any shell in between to the package manager.
 * Only then: `opsbus start &` from a script that then exits must keep running.
 */
import { identityOf, procName, procParent, stillRunning, type ProcessIdentity } from "./proc.js";

const SHELLS = new Set(["sh", "dash", "bash", "zsh", "ash", "ksh", "busybox"]);
const MAX_DEPTH = 3;

/** The launcher chain to follow: the parent, plus each ancestor while the one below is a shell. */
export function launcherChain(ppid: number = process.ppid): ProcessIdentity[] {
  const chain = [identityOf(ppid)];
  for (let pid = ppid; chain.length < MAX_DEPTH && SHELLS.has(procName(pid) ?? ""); ) {
    const up = procParent(pid);
    if (!up || up <= 1) break;
    chain.push(identityOf(up));
    pid = up;
  }
  return chain;
}

export interface LauncherWatchOptions {
  intervalMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Calls `onGone` once when this process's launcher has exited (our parent changed, or an
 * ancestor of the chain is no longer running). Does nothing unless started by a package-manager
 * script (`npm_lifecycle_event` set). Returns a function that stops watching.
 */
export function watchLauncher(onGone: (why: string) => void, opts: LauncherWatchOptions = {}): () => void {
  if (!(opts.env ?? process.env).npm_lifecycle_event) return () => undefined;
  const ppid = process.ppid;
  const chain = launcherChain(ppid);
  const timer = setInterval(() => {
    const gone = process.ppid !== ppid ? chain[0] : chain.find((p) => !stillRunning(p));
    if (!gone) return;
    clearInterval(timer);
    onGone(`launcher pid ${gone.pid} (${chain.map((p) => p.pid).join(" → ")}) is gone`);
  }, opts.intervalMs ?? 1000);
  timer.unref(); // watching must not keep the process alive on its own
  return () => clearInterval(timer);
}
