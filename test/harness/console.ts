/** The console as a server test drives it: a dev-agent login, a page with the session, a tool call as the page's script sends it. */
import * as assert from "uvu/assert";

export interface ConsoleSession {
  cookie: string;
  csrf: string;
}

export async function consoleLogin(base: string, agent: string): Promise<ConsoleSession> {
  const res = await fetch(`${base}/console/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agent }) });
  assert.is(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { result: { csrf: string } };
  return { cookie: res.headers.get("set-cookie")!.split(";")[0]!, csrf: body.result.csrf };
}

/** A page as the session sees it (redirects not followed). */
export async function consolePage(base: string, se: ConsoleSession, path: string): Promise<{ status: number; html: string }> {
  const res = await fetch(`${base}${path}`, { headers: { cookie: se.cookie }, redirect: "manual" });
  return { status: res.status, html: await res.text() };
}

/** POST /console/api/tools/<tool>/<action> with the CSRF header (unless `csrf: false`) and this server's origin. */
export function consoleTool(base: string, se: ConsoleSession, tool: string, action: string, params: Record<string, unknown>, o: { csrf?: boolean } = {}): Promise<Response> {
  return fetch(`${base}/console/api/tools/${tool}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: se.cookie, origin: base, ...(o.csrf === false ? {} : { "x-csrf-token": se.csrf }) },
    body: JSON.stringify(params),
  });
}
