/**
 * The direction of dependencies in `src/` (SPEC §5), as rules over the import graph:
 *   cli/main → app → workers/gateway/http/tools → domain folders → subjects, util;
 *   only cli/main import app (the composition root);
 *   stores/<store>/<backend>.ts implement the domain's ports and import from the domain, never the reverse.
 * Each rule names what it forbids; `import type` counts like any import (a port's type is a dependency).
 */
import type { ImportEdge } from "./import-graph.js";

/** Folders that hold rules (pure planners) and the store ports they need (`notify` is still to come). */
export const DOMAIN = ["alerts", "audit", "incidents", "jobs", "backlog", "risk", "pressure", "release", "notify", "silences", "console"] as const;
/**
 * The bottom layer: `subjects` and `util`, plus the two top-level files everything shares and that
 * import nothing above themselves: `errors.ts` (error classes and codes; `subjects/tools.ts` types its
 * reply with `ErrorCode`, `util/iso-week.ts` throws `invalid()`) and `log.ts` (the `Logger` type).
 */
const BASE = ["subjects", "util", "errors", "log"] as const;
/** What the bottom layer may import besides itself: validated configuration (`OPS_ENVS`). */
const BASE_MAY_IMPORT = [...BASE, "config"];
/** The layers above the domain: composition, process roles, the edges, and what they wire. */
const ABOVE_DOMAIN = ["app", "cli", "main", "roles", "runtime", "context", "workers", "gateway", "http", "tools"] as const;
/** What a store backend may not reach: the edges and composition that are built on top of stores. */
const ABOVE_STORES = ["app", "cli", "main", "roles", "runtime", "workers", "gateway", "http", "tools", "observability"] as const;

/** What may import the composition root `src/app/`: the entry points and app itself. */
const ABOVE_APP = ["app", "cli", "main"] as const;

/** `src/incidents/bridge.ts` → `incidents`; a top-level file `src/roles.ts` → `roles`. */
export function areaOf(path: string): string {
  const parts = path.replace(/^src\//, "").split("/");
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.ts$/, "");
}

type BackendKind = "memory" | "jsonl" | "postgres" | "auto";

/** `src/stores/<store>/memory|jsonl|postgres*.ts` and the `auto` backend `src/stores/auto.ts`. */
export function backendKind(path: string): BackendKind | undefined {
  if (path === "src/stores/auto.ts") return "auto";
  const m = /^src\/stores\/[^/]+\/(memory|jsonl|postgres)[^/]*\.ts$/.exec(path);
  return m ? (m[1] as BackendKind) : undefined;
}

const isIn = (area: string, list: readonly string[]) => list.includes(area);
const inDomainOrBase = (path: string) => isIn(areaOf(path), DOMAIN) || isIn(areaOf(path), ["subjects", "util"]);

export interface Rule {
  name: string;
  /** Said when it fails, with the offending imports under it. */
  why: string;
  breaks: (edge: ImportEdge) => boolean;
}

export const RULES: Rule[] = [
  {
    name: "backend-outside-stores",
    why: "only src/stores/factory.ts (and the stores folder itself) may import a store backend; everything else gets stores from the factory",
    breaks: (e) => backendKind(e.to) !== undefined && areaOf(e.from) !== "stores",
  },
  {
    name: "backend-imports-other-backend",
    why: "a backend may not take code from another kind of backend (a JSONL store may build on its memory store): a rule two backends share belongs in the domain",
    breaks: (e) => {
      const from = backendKind(e.from);
      const to = backendKind(e.to);
      return !!from && !!to && from !== to && !(from === "jsonl" && to === "memory");
    },
  },
  {
    name: "domain-reaches-up",
    why: `domain folders (${DOMAIN.join(", ")}), subjects and util may not import ${ABOVE_DOMAIN.join(", ")}: those are built on the domain`,
    breaks: (e) => inDomainOrBase(e.from) && isIn(areaOf(e.to), ABOVE_DOMAIN),
  },
  {
    name: "domain-imports-stores",
    why: "domain folders, subjects and util may not import src/stores: a store implements the domain's port, so rules and port types live in the domain",
    breaks: (e) => inDomainOrBase(e.from) && areaOf(e.to) === "stores",
  },
  {
    name: "base-imports-outside",
    why: `subjects, util, errors.ts and log.ts are the bottom layer: they import only ${BASE_MAY_IMPORT.join(", ")}`,
    breaks: (e) => isIn(areaOf(e.from), BASE) && !isIn(areaOf(e.to), BASE_MAY_IMPORT),
  },
  {
    name: "stores-reach-up",
    why: `src/stores may not import ${ABOVE_STORES.join(", ")}: those are built on the stores`,
    breaks: (e) => areaOf(e.from) === "stores" && isIn(areaOf(e.to), ABOVE_STORES),
  },
  {
    name: "app-imported-from-below",
    why: `only ${ABOVE_APP.join(", ")} may import src/app (the composition root): workers, gateway, http, tools, domain folders, stores, nats and observability receive their deps from it`,
    breaks: (e) => areaOf(e.to) === "app" && !isIn(areaOf(e.from), ABOVE_APP),
  },
];

/** `from -> to`, the identity of a known violation (lines move; the pair does not). */
export const pairOf = (e: ImportEdge) => `${e.from} -> ${e.to}`;
