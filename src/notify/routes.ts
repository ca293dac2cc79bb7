/**
 * The notification routing tree, compiled from config/notification_routes.yml, with
 * Alertmanager's semantics (dispatch/route.go): a child inherits every unset option from its
 * parent (receiver, group_by, the three timings) but not the time intervals, which belong to the
 * route that names them; matching is depth first, left to right; a matching child without
 * `continue` stops its later siblings; a node none of whose children match is itself the match.
 * Group keys are Alertmanager's (`{}/{route matchers}:{group labels}`), so a receiver migrating
 * from Alertmanager sees the same shape.
 */
import { GROUP_BY_ALL, type NotificationRoutesPolicy, type NotifyKind, type RouteConfig } from "../config/notification-routes.js";
import { matchesAll, type Matcher, type MatchType } from "../silences/matchers.js";
import { containsAny, type TimeInterval } from "../silences/time-intervals.js";
import type { RouteRef } from "./types.js";

/** Alertmanager's defaults for the root route (dispatch.DefaultRouteOpts). */
export const ROUTE_DEFAULTS = {
  group_wait_ms: 30_000,
  group_interval_ms: 5 * 60_000,
  repeat_interval_ms: 4 * 3_600_000,
  group_by: [] as string[],
  notify: "incidents" as NotifyKind,
} as const;

/** A route an incident matched, with every option resolved (inherited or its own). */
export interface MatchedRoute {
  /** Position in the tree: `` for the root, `0`, `0.1`, … (child indices). */
  path: string;
  receiver: string;
  /** Label names, or `['...']` for every label. */
  group_by: readonly string[];
  group_wait_ms: number;
  group_interval_ms: number;
  repeat_interval_ms: number;
  /** This route's own (never inherited). */
  mute_time_intervals: readonly string[];
  active_time_intervals: readonly string[];
  /** This route's own matchers, as Alertmanager writes them, in Alertmanager's order. */
  matchers: readonly string[];
  continue: boolean;
  notify: NotifyKind;
  /** Alertmanager's route key: the matchers of the root down to this route, `{}/{…}/{…}`. */
  key: string;
}

interface RouteNode {
  matchers: readonly Matcher[];
  route: MatchedRoute;
  children: readonly RouteNode[];
}

export interface RouteTree {
  root: RouteNode;
  /** The named time intervals (`time_intervals`). */
  intervals: ReadonlyMap<string, readonly TimeInterval[]>;
}

const TYPE_ORDER: Record<MatchType, number> = { "=": 0, "!=": 1, "=~": 2, "!~": 3 };

/** Go's string order (UTF-8 bytes, i.e. code points), not UTF-16 units. */
function compareCodePoints(a: string, b: string): number {
  const [x, y] = [[...a], [...b]];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Alertmanager's `labels.Matchers` order: name, then value, then type. */
function compareMatchers(a: Matcher, b: Matcher): number {
  return compareCodePoints(a.name, b.name) || compareCodePoints(a.value, b.value) || TYPE_ORDER[a.type] - TYPE_ORDER[b.type];
}

/** Alertmanager's `Matcher.String()`: the value double-quoted with OpenMetrics escapes. */
export function matcherText(m: Pick<Matcher, "name" | "type" | "value">): string {
  return `${m.name}${m.type}"${m.value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\" };

/** Go's `strconv.Quote`, as Prometheus's `LabelSet.String()` quotes a value. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (SHORT_ESCAPES[ch]) out += SHORT_ESCAPES[ch];
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd"; // a lone surrogate: not valid UTF-8
    else if (PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

/** Prometheus's `LabelSet.String()`: `{a="1", b="2"}`, names sorted. */
export function labelSetText(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort(compareCodePoints);
  return `{${names.map((n) => `${n}=${goQuote(labels[n]!)}`).join(", ")}}`;
}

/** Prometheus's duration text (model.Duration.String): `0s`, `90s` → `1m30s`, `1d`, `1w`. */
export function durationText(ms: number): string {
  if (ms === 0) return "0s";
  const units: Array<[string, number]> = [["y", 365 * 86_400_000], ["w", 7 * 86_400_000], ["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]];
  let rest = ms;
  let out = "";
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

function compileNode(cfg: RouteConfig, parent: MatchedRoute | undefined, path: string): RouteNode {
  const base = parent ?? { ...ROUTE_DEFAULTS, receiver: "", key: "" };
  const matchers = [...cfg.matchers].sort(compareMatchers);
  const text = matchers.map(matcherText);
  const route: MatchedRoute = Object.freeze({
    path,
    receiver: cfg.receiver ?? base.receiver,
    group_by: Object.freeze([...(cfg.group_by ?? base.group_by)]),
    group_wait_ms: cfg.group_wait ?? base.group_wait_ms,
    group_interval_ms: cfg.group_interval ?? base.group_interval_ms,
    repeat_interval_ms: cfg.repeat_interval ?? base.repeat_interval_ms,
    mute_time_intervals: Object.freeze([...cfg.mute_time_intervals]),
    active_time_intervals: Object.freeze([...cfg.active_time_intervals]),
    matchers: Object.freeze(text),
    continue: cfg.continue,
    notify: cfg.notify ?? base.notify,
    key: `${parent ? `${parent.key}/` : ""}{${text.join(",")}}`,
  });
  const children = cfg.routes.map((child, i) => compileNode(child, route, path === "" ? String(i) : `${path}.${i}`));
  return { matchers, route, children };
}

/**
 * The tree of a validated policy. Throws if a route names a time interval the policy does not
 * define (the policy's own validation already refuses that).
 */
export function compileRoutes(policy: NotificationRoutesPolicy): RouteTree {
  const intervals = new Map<string, readonly TimeInterval[]>(policy.time_intervals.map((t) => [t.name, Object.freeze([...t.time_intervals])]));
  const root = compileNode(policy.route, undefined, "");
  const check = (node: RouteNode) => {
    for (const name of [...node.route.mute_time_intervals, ...node.route.active_time_intervals]) {
      if (!intervals.has(name)) throw new RangeError(`route ${JSON.stringify(node.route.path)}: undefined time interval ${JSON.stringify(name)}`);
    }
    node.children.forEach(check);
  };
  check(root);
  return { root, intervals };
}

function matchNode(node: RouteNode, labels: Readonly<Record<string, string>>, out: MatchedRoute[]): boolean {
  if (!matchesAll(node.matchers, labels)) return false;
  const before = out.length;
  for (const child of node.children) {
    if (matchNode(child, labels, out) && !child.route.continue) break;
  }
  if (out.length === before) out.push(node.route);
  return true;
}

/** The routes `labels` go to, in tree order (Alertmanager's `Route.Match`); never empty (the root matches everything). */
export function matchRoutes(tree: RouteTree, labels: Readonly<Record<string, string>>): MatchedRoute[] {
  const out: MatchedRoute[] = [];
  matchNode(tree.root, labels, out);
  return out;
}

/** The route at `path` (`` for the root), e.g. to re-notify on the route a notification went out on. */
export function routeAt(tree: RouteTree, path: string): MatchedRoute | undefined {
  let node: RouteNode | undefined = tree.root;
  if (path === "") return node.route;
  for (const part of path.split(".")) {
    if (!/^\d+$/.test(part)) return undefined;
    node = node.children[Number(part)];
    if (!node) return undefined;
  }
  return node.route;
}

/**
 * The group `labels` fall in on `route`: its group_by labels the incident has (every label for
 * `['...']`) and Alertmanager's group key, `<route key>:<group labels>`.
 */
export function groupOf(route: MatchedRoute, labels: Readonly<Record<string, string>>): RouteRef {
  const all = route.group_by.includes(GROUP_BY_ALL);
  const group_labels: Record<string, string> = {};
  for (const name of all ? Object.keys(labels) : route.group_by) {
    if (Object.hasOwn(labels, name)) group_labels[name] = labels[name]!;
  }
  return { path: route.path, group_key: `${route.key}:${labelSetText(group_labels)}`, group_labels };
}

export type RouteMute = { muted: false; by?: undefined; reason?: undefined } | { muted: true; by: string; reason: "mute_time_interval" | "outside_active_time_intervals" };

/**
 * Whether `route` sends nothing at `at`: inside any of its mute intervals (`by`: that interval's
 * name), or it has active intervals and `at` is inside none (`by`: their names). Mute intervals
 * are checked first, as Alertmanager's pipeline does.
 */
export function routeMuted(route: Pick<MatchedRoute, "mute_time_intervals" | "active_time_intervals">, intervals: ReadonlyMap<string, readonly TimeInterval[]>, at: Date): RouteMute {
  const named = (name: string) => {
    const list = intervals.get(name);
    if (!list) throw new RangeError(`undefined time interval ${JSON.stringify(name)}`);
    return list;
  };
  for (const name of route.mute_time_intervals) {
    if (containsAny(named(name), at)) return { muted: true, by: name, reason: "mute_time_interval" };
  }
  const active = route.active_time_intervals;
  if (active.length && !active.some((name) => containsAny(named(name), at))) {
    return { muted: true, by: active.join(", "), reason: "outside_active_time_intervals" };
  }
  return { muted: false };
}

/** Whether any route of the tree says `notify: alert_groups` (without one, alert events need no reading). */
export function usesAlertGroups(tree: RouteTree): boolean {
  const any = (node: RouteNode): boolean => node.route.notify === "alert_groups" || node.children.some(any);
  return any(tree.root);
}

/** A route with its children, every option resolved (`routes show -o json`). */
export type RouteView = MatchedRoute & { routes: RouteView[] };

export function treeView(tree: RouteTree): RouteView {
  const view = (node: RouteNode): RouteView => ({ ...node.route, routes: node.children.map(view) });
  return view(tree.root);
}

/** One line of `routes show`: what the route adds or changes (inherited options are left out). */
function nodeLine(r: MatchedRoute, parent: MatchedRoute | undefined): string {
  const parts = [parent ? `[${r.path}] {${r.matchers.join(",")}}` : "default-route"];
  if (r.continue) parts.push("continue: true");
  parts.push(`receiver: ${r.receiver}`);
  const list = (xs: readonly string[]) => `[${xs.join(", ")}]`;
  if (!parent || list(r.group_by) !== list(parent.group_by)) parts.push(`group_by: ${list(r.group_by)}`);
  if (!parent || r.group_wait_ms !== parent.group_wait_ms) parts.push(`group_wait: ${durationText(r.group_wait_ms)}`);
  if (!parent || r.group_interval_ms !== parent.group_interval_ms) parts.push(`group_interval: ${durationText(r.group_interval_ms)}`);
  if (!parent || r.repeat_interval_ms !== parent.repeat_interval_ms) parts.push(`repeat_interval: ${durationText(r.repeat_interval_ms)}`);
  if (r.mute_time_intervals.length) parts.push(`mute_time_intervals: ${list(r.mute_time_intervals)}`);
  if (r.active_time_intervals.length) parts.push(`active_time_intervals: ${list(r.active_time_intervals)}`);
  if (!parent || r.notify !== parent.notify) parts.push(`notify: ${r.notify}`);
  return parts.join("  ");
}

/** The tree as amtool's `config routes show` draws it, with each route's own options. */
export function describeTree(tree: RouteTree): string {
  const lines = ["Routing tree:"];
  const draw = (node: RouteNode, parent: MatchedRoute | undefined, indent: string, last: boolean) => {
    lines.push(`${indent}${last ? "└── " : "├── "}${nodeLine(node.route, parent)}`);
    const inner = indent + (last ? "    " : "│   ");
    node.children.forEach((child, i) => draw(child, node.route, inner, i === node.children.length - 1));
  };
  draw(tree.root, undefined, "", true);
  return lines.join("\n");
}
