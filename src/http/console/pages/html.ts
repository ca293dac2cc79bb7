/**
 * HTML for the console's pages, built from strings with ONE escaping rule: every value put into
 * an `html` template is escaped (& < > " ' `), unless it is itself the output of `html` (a `Html`).
 * Nothing else makes markup, so data (alert titles, labels, notes) can only ever be text.
 * Attribute values are always double-quoted in the templates; URLs put in `href` go through
 * `safeHref`, which keeps only relative paths and http(s) links.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** The one escaping helper: text → HTML text, safe in element content and in quoted attributes. */
export function escapeHtml(v: string): string {
  return v.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function piece(v: Value): string {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(piece).join("");
  return escapeHtml(String(v));
}

/** The template tag: `html\`<td>${title}</td>\`` escapes `title`. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += piece(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** A relative path or an http(s) URL; anything else (javascript:, data:, …) becomes "#". */
export function safeHref(url: string): string {
  const t = url.trim();
  if (t.startsWith("/") && !t.startsWith("//")) return t;
  try {
    const u = new URL(t);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : "#";
  } catch {
    return "#";
  }
}

/** "3 min ago" / "in 2 h", from `now`. */
export function relative(iso: string, now: Date): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((t - now.getTime()) / 1000);
  const a = Math.abs(s);
  const span = a < 45 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86_400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} d`;
  if (a < 5) return "just now";
  return s < 0 ? `${span} ago` : `in ${span}`;
}

/** A time shown relative, with the UTC instant in its title (app.js keeps the text current). */
export function time(iso: string | undefined, now: Date): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  const d = new Date(iso);
  const utc = Number.isNaN(d.getTime()) ? iso : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  return html`<time datetime="${iso}" title="${utc}">${relative(iso, now)}</time>`;
}
