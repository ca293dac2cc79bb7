/**
 * Label matchers as Alertmanager parses them (`pkg/labels.ParseMatcher`): `name op value`, op one
 * of `= != =~ !~`, the value optionally double-quoted with `\"`, `\n`, `\\` escapes. Regexes are
 * fully anchored, as Alertmanager's, and run on RE2 (re2js): linear time, so a caller's pattern
 * can never stall the event loop the way a backtracking JS RegExp could.
 */
import { RE2JS } from "re2js";

export type MatchType = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  name: string;
  type: MatchType;
  value: string;
  matches(value: string): boolean;
}

/** '=~' before '=' so the '~' is never read as part of the value. */
const MATCHER = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*([\s\S]*?)\s*$/;

export class MatcherError extends Error {}

/** The value with its quotes and OpenMetrics escapes undone, as Alertmanager does (lenient on stray `\`). */
function unquote(raw: string, whole: string): string {
  const quoted = raw.startsWith('"');
  const body = quoted ? raw.slice(1) : raw;
  let out = "";
  let closed = !quoted;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "\\" && i < body.length - 1) {
      const next = body[++i]!;
      out += next === "n" ? "\n" : next === '"' || next === "\\" ? next : `\\${next}`;
    } else if (c === '"') {
      if (!quoted || i < body.length - 1) throw new MatcherError(`matcher value contains unescaped double quote: ${whole}`);
      closed = true;
    } else {
      out += c;
    }
  }
  if (!closed) throw new MatcherError(`matcher value contains unescaped double quote: ${whole}`);
  return out;
}

export function makeMatcher(name: string, type: MatchType, value: string): Matcher {
  if (type === "=") return { name, type, value, matches: (v) => v === value };
  if (type === "!=") return { name, type, value, matches: (v) => v !== value };
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:${value})$`);
  } catch (err) {
    const message = (err as Error).message;
    throw new MatcherError(message.startsWith("error parsing regexp") ? message : `error parsing regexp: ${message}`);
  }
  const positive = type === "=~";
  return { name, type, value, matches: (v) => re.matches(v) === positive };
}

/** One `filter` value, e.g. `alertname="X"` or `severity=~"crit.*"`; throws MatcherError with Alertmanager's wording. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER.exec(text);
  if (!m) throw new MatcherError(`bad matcher format: ${text}`);
  return makeMatcher(m[1]!, m[2] as MatchType, unquote(m[3]!, m[3]!));
}

/** A missing label matches as the empty string, as in Alertmanager and Prometheus. */
export function matchesAll(matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of matchers) if (!m.matches(Object.hasOwn(labels, m.name) ? labels[m.name]! : "")) return false;
  return true;
}
