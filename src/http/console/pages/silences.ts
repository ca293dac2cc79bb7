/** Silences: every one with its state; create (with a preview of what it would mute) and expire, when the role may. */
import type { Silence, SilenceMatcher, SilenceState } from "../../../silences/silence.js";
import { html, time, type Html } from "./html.js";
import { failed, toolForm, type Page, type PageContext } from "./layout.js";

/** What the page reads of a silence_tool.list silence: the stored silence with its state at the call. */
type SilenceRow = Pick<Silence, "id" | "matchers" | "starts_at" | "ends_at" | "created_by" | "comment"> & { state: SilenceState };

export const matcherText = (m: SilenceMatcher): string => `${m.name}${m.is_equal ? "" : "!"}${m.is_regex ? (m.is_equal ? "=~" : "~") : "="}"${m.value}"`;

/** A silence form: matchers one per line (prefilled or empty), minutes, why; Preview shows the firing alerts it would mute. */
export function silenceForm(o: { id: string; field: string; matchers: string[]; summary: string; label: string }): Html {
  const f = o.field;
  const inner = html`<label for="m-${f}">Matchers (one per line)</label>
<textarea id="m-${f}" name="matchers" data-type="lines" rows="3" placeholder='alertname="DiskFull"&#10;service=~"check.*"'>${o.matchers.join("\n")}</textarea>
<div class="row"><label for="d-${f}">Minutes</label> <input id="d-${f}" name="duration_minutes" type="number" data-type="number" min="1" value="120" class="short">
<label for="c-${f}">Why</label> <input id="c-${f}" name="comment" required value="" placeholder="ticket, maintenance, reason"></div>
<div class="row"><button type="submit" data-action="preview" data-fields="matchers" data-after="none" formnovalidate>Preview</button> <button type="submit">Create silence</button></div>`;
  return html`<details class="silence" id="${o.id}"><summary>${o.summary}</summary>${toolForm("silence_tool", "create", inner, { label: o.label })}</details>`;
}

export async function silencesPage(ctx: PageContext): Promise<Page> {
  const state = ["active", "pending", "expired"].includes(ctx.query.state ?? "") ? ctx.query.state : undefined;
  const a = await ctx.call("silence_tool", "list", { ...(state ? { state } : {}), limit: 500 });
  const canExpire = ctx.may("silence_tool", "expire");
  let body;
  if (!a.ok) body = failed("silences", a);
  else {
    const list = (a.result.silences ?? []) as SilenceRow[];
    body =
      list.length === 0
        ? html`<p class="empty">No silences${state ? html` in state ${state}` : ""}. Silence a noisy alert from the <a href="/console/alerts">Alerts</a> page.</p>`
        : html`<ul class="cards">${list.map(
            (s) => html`<li class="card">
<div class="row"><span class="state state-${s.state}">${s.state}</span> <code>${s.matchers.map(matcherText).join(", ")}</code></div>
<div class="muted">by ${s.created_by} · ${s.comment}</div>
<div class="muted">from ${timeOf(s.starts_at, ctx)} until ${timeOf(s.ends_at, ctx)}</div>
${canExpire && s.state !== "expired" ? toolForm("silence_tool", "expire", html`<input type="hidden" name="id" value="${s.id}"><button type="submit">Expire now</button>`, { label: "Expire silence" }) : ""}
</li>`,
          )}</ul>`;
  }
  const filters = html`<nav class="filters" aria-label="Silence state">${["all", "active", "pending", "expired"].map((s) => html`<a href="/console/silences${s === "all" ? "" : `?state=${s}`}"${(state ?? "all") === s ? html` aria-current="true"` : ""}>${s}</a>`)}</nav>`;
  const create = ctx.may("silence_tool", "create") && ctx.may("silence_tool", "preview") ? silenceForm({ id: "silence-new", field: "new", matchers: [], summary: "New silence", label: "New silence" }) : "";
  return { title: "Silences", page: "silences", live: ["silence."], body: html`${filters}${create}<section id="silences" data-live>${body}</section>` };
}

const timeOf = (iso: string, ctx: PageContext) => time(iso, ctx.now);
