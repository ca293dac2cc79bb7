/**
 * Markdown artifacts in the console: the ordinary report renders (headings, lists, tables, code,
 * links with rel), and hostile sources come out inert — no script, no event handler, no style, no
 * javascript:/data:/protocol-relative URL, no element outside the allow-list — through either layer.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LINK_REL, MARKDOWN_MAX_CHARS, renderMarkdown, safeLinkTarget, sanitizeRendered } from "../../src/console/markdown.js";

const TAGS = new Set(["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"]);
const ATTRS = new Set(["href", "title", "rel", "start", "class"]);

/**
 * Every tag of the output is allowed, with allowed attributes only; every href is http(s), mailto or
 * relative. (The sanitiser always writes double-quoted attributes and escapes `<` in text, so a tag
 * scan reads its output exactly.)
 */
function assertInert(out: string, source: string): void {
  const why = `${JSON.stringify(source)} → ${out}`;
  for (const m of out.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>]+="[^"]*")*)\s*\/?>/g)) {
    assert.ok(TAGS.has(m[1]!.toLowerCase()), `tag <${m[1]}> in ${why}`);
    for (const a of m[2]!.matchAll(/([^\s=]+)="([^"]*)"/g)) {
      const name = a[1]!.toLowerCase();
      assert.ok(ATTRS.has(name), `attribute ${name} in ${why}`);
      if (name === "href") assert.ok(safeLinkTarget(decodeEntities(a[2]!)), `href ${a[2]} in ${why}`);
      if (name === "rel") assert.is(a[2], LINK_REL, why);
      if (name === "class") assert.match(a[2]!, /^language-[A-Za-z0-9_+-]+$/, why);
    }
  }
  // Every `<` left is part of a tag the scan above read: nothing else can open an element.
  assert.is(out.replace(/<\/?([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>]+="[^"]*")*)\s*\/?>/g, "").includes("<"), false, `stray < in ${why}`);
  assert.not.match(out, /<script|<style|<img|<svg|<iframe|<object|<embed|<form|<input|<math|<link|<meta|<base/i, why);
  // Text such as `" onerror="` may remain, as text: inside a tag only the attributes checked above exist.
  for (const tag of out.match(/<[^>]*>/g) ?? []) {
    // Attribute names only: a quoted value (a title) may hold any text.
    assert.not.match(tag.replace(/"[^"]*"/g, '""'), /\son[a-z]+\s*=|\sstyle\s*=|\ssrc\s*=/i, why);
    assert.not.match(tag, /href="\s*(javascript|vbscript|data|file):/i, why);
  }
}

const decodeEntities = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16))).replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)));

test("a triage report renders: headings three levels down, lists, a table, code with its language, links with rel", () => {
  const out = renderMarkdown(
    "# Triage: checkout 5xx\n\n## Timeline\n\n- **10:00** alert fired\n- 10:05 [runbook](https://runbooks.example/checkout) and [alerts](/console/alerts)\n\n| gate | verdict |\n|:--|--:|\n| slo | fail |\n\n```sh\nkubectl rollout undo\n```\n\n> quoted\n",
  );
  assert.match(out, /<h4>Triage: checkout 5xx<\/h4>/);
  assert.match(out, /<h5>Timeline<\/h5>/);
  assert.match(out, /<li><strong>10:00<\/strong> alert fired<\/li>/);
  assert.match(out, `<a href="https://runbooks.example/checkout" rel="${LINK_REL}">runbook</a>`);
  assert.match(out, `<a href="/console/alerts" rel="${LINK_REL}">alerts</a>`);
  assert.match(out, /<table>[\s\S]*<th>gate<\/th>[\s\S]*<td>fail<\/td>/);
  assert.match(out, /<pre><code class="language-sh">kubectl rollout undo\n<\/code><\/pre>/);
  assert.match(out, /<blockquote>/);
  assertInert(out, "report");
});

const HOSTILE: Array<[string, string]> = [
  ["script tag", "<script>alert(1)</script>"],
  ["script split over lines", "<scr\nipt>alert(1)</script>"],
  ["script in a heading", "# <script>alert(document.cookie)</script>"],
  ["img onerror", '<img src=x onerror="alert(1)">'],
  ["img onerror in a list", "- <img src=x onerror=alert(1)>"],
  ["svg onload", "<svg onload=alert(1)></svg>"],
  ["iframe srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'],
  ["javascript: link", "[click](javascript:alert(1))"],
  ["JavaScript: in mixed case", "[click](JaVaScRiPt:alert(1))"],
  ["javascript: with a tab in the scheme", "[click](java\tscript:alert(1))"],
  ["javascript: with an entity", "[click](&#106;avascript:alert(1))"],
  ["javascript: with a hex entity", "[click](&#x6A;avascript:alert(1))"],
  ["javascript: in angle brackets", "[click](<javascript:alert(1)>)"],
  ["javascript: autolink", "<javascript:alert(1)>"],
  ["javascript: reference link", "[click][x]\n\n[x]: javascript:alert(1)"],
  ["vbscript: link", "[click](vbscript:msgbox(1))"],
  ["data: html link", "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"],
  ["data: image", "![x](data:image/png;base64,iVBORw0KGgo=)"],
  ["data: svg image", "![x](data:image/svg+xml,<svg onload=alert(1)>)"],
  ["protocol-relative link", "[x](//evil.example/steal)"],
  ["backslash host", "[x](/\\evil.example)"],
  ["raw anchor with javascript:", '<a href="javascript:alert(1)">x</a>'],
  ["CSS injection via style", '<p style="background:url(javascript:alert(1))">x</p>'],
  ["CSS expression", '<div style="width: expression(alert(1))">x</div>'],
  ["style element", "<style>body{display:none}</style>"],
  ["link title breaking out", '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")'],
  ["image alt breaking out", '![" onerror="alert(1)](https://ok.example/x.png)'],
  ["code fence info breaking out", '```js" onclick="alert(1)\nx\n```'],
  ["code fence info with a class trick", "```x style=color:red\ny\n```"],
  ["nested tricks: markdown link inside raw html", "<a href='x'>[y](javascript:alert(1))</a>"],
  ["nested tricks: html entity script", "&lt;script&gt;alert(1)&lt;/script&gt;"],
  ["nested tricks: comment", "<!-- --><script>alert(1)</script><!-- -->"],
  ["nested tricks: CDATA", "<![CDATA[<script>alert(1)</script>]]>"],
  ["nested tricks: link in link", "[[x](javascript:alert(1))](https://ok.example)"],
  ["nested tricks: deep blockquotes", `${"> ".repeat(200)}<script>alert(1)</script>`],
  ["nested tricks: deep lists", `${Array.from({ length: 120 }, (_, i) => `${"  ".repeat(i)}- [x](javascript:alert(${i}))`).join("\n")}`],
  ["form and input", '<form action="https://evil.example"><input name="api_key"></form>'],
  ["meta refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'],
  ["base href", '<base href="https://evil.example/">'],
];

for (const [name, source] of HOSTILE) {
  test(`hostile markdown is inert: ${name}`, () => {
    const out = renderMarkdown(source);
    assertInert(out, source);
    // Raw HTML in the source is text: its tag names appear only escaped, never as markup.
    assert.not.match(out, /<(script|img|svg|iframe|style|form|input|meta|base)\b/i);
  });
}

test("the second layer alone: raw HTML through the sanitiser keeps only allowed tags, attributes and URL schemes", () => {
  const dirty =
    '<p style="color:red" onclick="x()" class="evil">a<img src=x onerror=alert(1)><a href="javascript:alert(1)">j</a><a href="data:text/html,x">d</a><a href="//evil.example">p</a>' +
    '<a href=" JAVASCRIPT:alert(1)">s</a><a href="https://ok.example" target="_blank" rel="opener">ok</a><script>alert(1)</script><style>body{}</style><iframe src="https://evil.example"></iframe>' +
    "<svg><script>alert(1)</script></svg><math><mi xlink:href=\"javascript:alert(1)\">m</mi></math><code class=\"language-js x\">c</code></p>";
  const out = sanitizeRendered(dirty);
  assertInert(out, dirty);
  assert.match(out, `<a href="https://ok.example" rel="${LINK_REL}">ok</a>`);
  assert.not.match(out, /alert\(1\)<\/script>|<script|evil\.example/);
});

test("safeLinkTarget: http(s), mailto and relative links only", () => {
  for (const ok of ["https://a.example/x", "http://a.example", "mailto:oncall@example.com", "/console/alerts", "report.md", "#section", "?q=1"]) assert.ok(safeLinkTarget(ok), ok);
  for (const bad of ["javascript:alert(1)", " javascript:alert(1)", "java\nscript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "vbscript:x", "file:///etc/passwd", "//evil.example", "\\\\evil.example", "/\\evil.example", "ftp://x"]) {
    assert.not.ok(safeLinkTarget(bad), bad);
  }
});

test("a source past the limit is cut, and the output says so", () => {
  const out = renderMarkdown(`${"word ".repeat(MARKDOWN_MAX_CHARS / 5)}<script>alert(1)</script>`);
  assert.match(out, /cut at 200000 characters/);
  assert.not.match(out, /script/);
});
test.run();
