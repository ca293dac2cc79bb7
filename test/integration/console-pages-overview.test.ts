/**
 * The console's overview and silences pages on a real gateway and nats-server: the nodes as the
 * last poll of config/nodes_registry.yml found them (online, heartbeat age; offline with its
 * reason), this node's alert loop, and `monitor_tool.nodes` behind them; the silences page's
 * create form (with preview) for a role that writes silences, none for a monitor.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { freePort } from "../harness/ports.js";
import { consoleLogin, consolePage } from "../harness/console.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let base: string;

test.before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  s = await startStack({
    env: { HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", NODES_POLL_INTERVAL_SEC: "1" },
    // node1 answers (this gateway's NODE_ID); ghost has no process behind it.
    policies: { nodes: { nodes: { NODE1: { label: "Local node", node_id: "node1", timeout_ms: 3000 }, GHOST: { label: "Gone node", node_id: "ghost", timeout_ms: 200 } } } },
  });
});
test.after(async () => s?.stop());

const cookieOf = async (agent: string) => (await consoleLogin(base, agent)).cookie;

async function pageOf(cookie: string, path: string): Promise<string> {
  const { status, html } = await consolePage(base, { cookie, csrf: "" }, path);
  assert.is(status, 200, path);
  return html;
}

const row = (page: string, node: string) => page.match(new RegExp(`<tr data-node="${node}">[^]*?</tr>`))?.[0] ?? "";

test("overview: every registry node as the last poll found it, offline ones with the reason; this node's alert loop", async () => {
  await waitFor(() => s.events("nodes.status").length > 0, { message: "a nodes poll" });
  const polled = await s.call<{ polled_at: string; online: number; offline: number; nodes: Array<{ node_id: string; online: boolean; reason?: string }> }>("monitor_tool", "nodes", {}, { agent: "sofiia" });
  assert.ok(polled.ok, JSON.stringify(polled));
  if (!polled.ok) return;
  assert.equal(polled.result.nodes.map((n) => [n.node_id, n.online]), [["node1", true], ["ghost", false]]);

  const page = await pageOf(await cookieOf("sofiia"), "/console/");
  assert.match(row(page, "node1"), /Local node[^]*state-online[^]*\d+ s<\/td>/);
  assert.match(row(page, "ghost"), /Gone node[^]*state-offline[^]*(no responders|timeout)/);
  assert.match(page, /alert loop p95 <strong>[^<]+<\/strong> over \d+ alerts \(15 min\), failed <strong>[^<]+<\/strong> \(1 h\), heartbeat \d+ s ago/);
  assert.match(page, /<section aria-labelledby="h-nodes" id="overview-nodes" data-live>/);
  assert.match(page, /data-live="[^"]*nodes\./, "the section refreshes on nodes.status");
});

test("silences: a role that writes silences gets the create form with its preview; a monitor gets the list only", async () => {
  const writer = await pageOf(await cookieOf("sofiia"), "/console/silences");
  assert.match(writer, /<details class="silence" id="silence-new"><summary>New silence<\/summary>/);
  assert.match(writer, /data-tool="silence_tool" data-action="create"/);
  assert.match(writer, /data-action="preview"/);
  const monitor = await pageOf(await cookieOf("monitor"), "/console/silences");
  assert.not.match(monitor, /silence-new|data-action="create"/);
});

test.run();
