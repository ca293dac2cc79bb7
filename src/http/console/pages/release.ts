/**
 * Release check: a GET form (service, env) whose answer is the release gate's verdict, rendered on
 * the server from release_tool.release_check. Without gates bypassed the check only reads (alerts,
 * incidents, risk, the observability sources), so a link to a check is safe to reload and share;
 * bypassing a gate stays with the tool API, where the reason is required and recorded.
 */
import { RELEASE_ENVS } from "../../../config/release-policy.js";
import type { GateResult, ReleaseCheckResult } from "../../../release/types.js";
import { html, time, type Html } from "./html.js";
import { failed, type Page, type PageContext } from "./layout.js";

const SERVICE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function gateRow(g: GateResult): Html {
  const details = Object.keys(g.details ?? {}).length ? html`<details><summary class="small">details</summary><pre class="artifact-text">${JSON.stringify(g.details, null, 2)}</pre></details>` : "";
  return html`<tr data-gate="${g.gate}"><th scope="row">${g.gate}</th><td>${g.mode}</td><td><span class="state verdict verdict-${g.verdict}">${g.verdict}</span></td><td>${
    g.reasons.length ? html`<ul class="reasons">${g.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : html`<span class="muted">—</span>`
  }${details}</td></tr>`;
}

function verdictOf(r: ReleaseCheckResult, now: Date): Html {
  const what = r.service ? html`<code>${r.service}</code> to ${r.env}` : html`every service of ${r.env}`;
  return html`<section aria-labelledby="h-verdict" id="release-verdict" data-verdict="${r.verdict}">
<h2 id="h-verdict">Release of ${what}: <span class="state verdict verdict-${r.verdict}">${r.pass ? "pass" : "fail"}</span></h2>
<p class="muted">checked ${time(r.checked_at, now)}${r.blocked_by.length ? html` · blocked by ${r.blocked_by.join(", ")}` : ""}</p>
${r.warnings.length ? html`<ul class="warnings" aria-label="warnings">${r.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : ""}
<table class="gates"><thead><tr><th scope="col">Gate</th><th scope="col">Mode</th><th scope="col">Verdict</th><th scope="col">Why</th></tr></thead><tbody>${r.gates.map(gateRow)}</tbody></table>
</section>`;
}

export async function releasePage(ctx: PageContext): Promise<Page> {
  if (!ctx.may("release_tool", "release_check")) {
    return {
      title: "Release check",
      page: "release",
      live: [],
      status: 403,
      body: html`<p class="error" role="alert">Your role (${ctx.caller.role}) may not run release checks: that needs the entitlement tools.release.check (config/rbac_tools_matrix.yml).</p>`,
    };
  }
  const q = ctx.query;
  const env = (RELEASE_ENVS as readonly string[]).includes(q.env ?? "") ? q.env! : undefined;
  const service = (q.service ?? "").trim();
  const asked = q.env !== undefined || q.service !== undefined;
  let result: Html = html`<p class="empty">Pick the environment (and a service, or none for every service of the env) and check: each gate answers pass, warn, fail or skipped, with its reasons.</p>`;
  if (asked) {
    const problems = [
      ...(env ? [] : [`env must be one of ${RELEASE_ENVS.join(", ")}`]),
      ...(service && !SERVICE.test(service) ? ["service: letters, digits, _ . : - (a service name, ≤ 128 chars)"] : []),
    ];
    if (problems.length) result = html`<p class="error" role="alert">Cannot check: ${problems.join("; ")}.</p>`;
    else {
      const a = await ctx.call("release_tool", "release_check", { env, ...(service ? { service } : {}) });
      result = a.ok ? verdictOf(a.result as unknown as ReleaseCheckResult, ctx.now) : failed("the release check", a);
    }
  }
  const form = html`<form class="filters" method="get" action="/console/release" aria-label="Release check">
<label for="service">Service</label> <input id="service" name="service" value="${service}" maxlength="128" placeholder="e.g. checkout (empty: every service)">
<label for="env">Env</label> <select id="env" name="env">${RELEASE_ENVS.map((e) => html`<option value="${e}"${e === (env ?? "prod") ? html` selected` : ""}>${e}</option>`)}</select>
<button type="submit">Check release</button></form>`;
  return { title: "Release check", page: "release", live: [], body: html`${form}<div id="release">${result}</div>` };
}
