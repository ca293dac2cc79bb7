/**
 * Markdown → HTML for the console (triage reports and postmortem drafts attached to incidents).
 * Two layers, each enough alone for the usual tricks:
 *  1. markdown-it with raw HTML off (a `<script>` in the source stays text), no linkify, and a
 *     link check that keeps only http(s), mailto and relative links;
 *  2. sanitize-html over its output with an allow-list of tags and attributes: no style, no event
 *     handlers, no class but a code block's language, URLs only http(s)/mailto or relative (never
 *     javascript:, data:, protocol-relative), every link with rel="noopener noreferrer nofollow".
 * Images are not shown inline (the CSP blocks other hosts, and data: URLs are refused): an image
 * becomes a link to its source with its alt text. Headings move down three levels (an h1 in a
 * report is an h4 on the page), under the page's own h1–h3.
 */
import MarkdownIt from "markdown-it";
import sanitizeHtml from "sanitize-html";

/** Past this many characters the source is cut, and the page says so: it stays quick to render and read. */
export const MARKDOWN_MAX_CHARS = 200_000;

/** The one rel every rendered link carries: no opener, no referrer, no endorsement of the target. */
export const LINK_REL = "noopener noreferrer nofollow";

const SAFE_SCHEMES = ["http", "https", "mailto"];
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** A URL markdown-it may turn into a link: http(s), mailto, or relative (not `//host`, which takes the page's scheme). */
export function safeLinkTarget(url: string): boolean {
  // Browsers ignore ASCII tab/newline/control characters inside a scheme ("java\tscript:"): judge the URL without them.
  // eslint-disable-next-line no-control-regex
  const u = url.replace(/[\u0000-\u001f\u007f\s]/g, "");
  const scheme = SCHEME.exec(u);
  if (scheme) return SAFE_SCHEMES.includes(scheme[1]!.toLowerCase());
  return !u.startsWith("//") && !u.startsWith("\\\\") && !u.startsWith("/\\") && !u.startsWith("\\/");
}

const md = new MarkdownIt("default", { html: false, linkify: false, typographer: false });
md.validateLink = safeLinkTarget;
md.core.ruler.push("console_headings", (state) => {
  for (const t of state.tokens) if (t.type === "heading_open" || t.type === "heading_close") t.tag = `h${Math.min(6, Number(t.tag.slice(1)) + 3)}`;
});
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const t = tokens[idx]!;
  const alt = self.renderInlineAsText(t.children ?? [], options, env) || "image";
  return `<a href="${md.utils.escapeHtml(t.attrGet("src") ?? "")}">${md.utils.escapeHtml(`[image: ${alt}]`)}</a>`;
};

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: ["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"],
  allowedAttributes: { a: ["href", "title", "rel"], ol: ["start"] },
  allowedClasses: { code: [/^language-[A-Za-z0-9_+-]{1,40}$/] },
  allowedSchemes: SAFE_SCHEMES,
  allowedSchemesByTag: {},
  allowedSchemesAppliedToAttributes: ["href"],
  allowProtocolRelative: false,
  allowedStyles: {},
  parseStyleAttributes: false,
  disallowedTagsMode: "discard",
  nestingLimit: 40,
  transformTags: { a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: LINK_REL } }) },
};

/** Sanitised HTML of a markdown source: safe to put in a page as markup. */
export function renderMarkdown(source: string): string {
  const cut = source.length > MARKDOWN_MAX_CHARS;
  const text = cut ? source.slice(0, MARKDOWN_MAX_CHARS) : source;
  const out = sanitizeHtml(md.render(text), SANITIZE);
  return cut ? `${out}<p class="muted">(cut at ${MARKDOWN_MAX_CHARS} characters)</p>` : out;
}

/** The sanitiser alone (the second layer), for HTML from anywhere else. */
export const sanitizeRendered = (htmlText: string): string => sanitizeHtml(htmlText, SANITIZE);
