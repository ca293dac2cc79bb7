/** The login page: an API key; in dev also an agent name from the RBAC matrix. */
import { html } from "./html.js";
import { bare } from "./layout.js";

export function loginPage(nonce: string, o: { dev: boolean; agents: string[]; next?: string }): string {
  const agent = o.dev
    ? html`<p class="muted">In dev you may log in by agent name instead (${o.agents.join(", ")}).</p>
<label for="agent">Agent (dev only)</label>
<input id="agent" name="agent" autocomplete="username" list="agents">
<datalist id="agents">${o.agents.map((a) => html`<option value="${a}"></option>`)}</datalist>`
    : "";
  return bare(
    nonce,
    "Log in",
    html`<form data-login method="post" action="/console/login" data-next="${o.next ?? "/console/"}">
<label for="api_key">API key</label>
<input id="api_key" name="api_key" type="password" autocomplete="current-password" autofocus>
${agent}
<button type="submit">Log in</button>
<output class="result" aria-live="polite"></output>
</form>
<p class="muted">Keys come from OPSBUS_API_KEYS (<code>agent=key,…</code>) on the gateway.</p>`,
  );
}
