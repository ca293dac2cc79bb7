/** Slack pacing: one message per second per webhook URL within the process, on an injected clock. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ReceiversPolicy } from "../../src/config/receivers.js";
import { buildIntegrations, closeIntegrations } from "../../src/notify/integrations/index.js";
import { Pacer, Pacers, type PaceClock } from "../../src/notify/integrations/pacer.js";
import { VALIDATORS } from "../harness/receiver-schemas.js";
import { notificationFixture as fixture, startHttpReceiver } from "../harness/receivers.js";

/** A clock that stands still; every wait is recorded and returns at once. */
function fakeClock(start = 1_000_000): PaceClock & { waits: number[]; t: number } {
  const c = {
    t: start,
    waits: [] as number[],
    now: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw new Error("aborted");
      c.waits.push(ms);
    },
  };
  return c;
}

test("Pacer: slots one interval apart; time passing frees them; a hold pushes the next slot", async () => {
  const clock = fakeClock();
  const p = new Pacer(1000, clock);
  await Promise.all([p.turn(), p.turn(), p.turn()]);
  assert.equal(clock.waits, [1000, 2000]);
  clock.t += 10_000;
  clock.waits.length = 0;
  await p.turn();
  assert.equal(clock.waits, [], "idle long enough: no wait");
  p.holdFor(5000);
  await p.turn();
  assert.equal(clock.waits, [5000]);
  const ac = new AbortController();
  ac.abort();
  assert.is(await p.turn(ac.signal), false);
});

test("slack receivers: paced per webhook URL (shared by receivers on the same URL), each body valid", async () => {
  const a = await startHttpReceiver({ validate: VALIDATORS.slack });
  const b = await startHttpReceiver({ validate: VALIDATORS.slack });
  const clock = fakeClock();
  const policy = ReceiversPolicy.parse({
    receivers: [
      { name: "one", slack: { url_env: "A" } },
      { name: "two", slack: { url_env: "A" } },
      { name: "other", slack: { url_env: "B" } },
    ],
  });
  const map = buildIntegrations(policy, { env: { A: a.url, B: b.url }, userAgent: "opsbus/test", slackPacers: new Pacers(1000, clock) });
  try {
    const signal = new AbortController().signal;
    const results = await Promise.all([
      map.get("one")!.integration!.send(fixture({ receiver: "one" }), signal),
      map.get("two")!.integration!.send(fixture({ receiver: "two" }), signal),
      map.get("one")!.integration!.send(fixture({ kind: "acknowledged", receiver: "one" }), signal),
      map.get("other")!.integration!.send(fixture({ receiver: "other" }), signal),
    ]);
    assert.equal(results.map((r) => r.outcome), ["delivered", "delivered", "delivered", "delivered"]);
    // Three sends to URL A: the 2nd waits 1 s, the 3rd 2 s; URL B's first send does not wait.
    assert.equal(clock.waits, [1000, 2000]);
    assert.is((await a.waitFor(3)).length, 3);
    assert.is((await b.waitFor(1)).length, 1);
    assert.equal([...a.requests, ...b.requests].flatMap((r) => r.problems), []);

    // Slack's own 429 Retry-After holds the URL's next slot.
    clock.t += 60_000;
    clock.waits.length = 0;
    a.setMode({ kind: "status", status: 429, retryAfter: "30" });
    const limited = await map.get("one")!.integration!.send(fixture({ receiver: "one" }), signal);
    assert.equal({ outcome: limited.outcome, retry_after_ms: (limited as { retry_after_ms?: number }).retry_after_ms }, { outcome: "retry", retry_after_ms: 30_000 });
    a.setMode({ kind: "ok" });
    await map.get("two")!.integration!.send(fixture({ receiver: "two" }), signal);
    assert.equal(clock.waits, [30_000]);
  } finally {
    await closeIntegrations(map);
    await a.close();
    await b.close();
  }
});

test.run();
