import { test } from "uvu";
import * as assert from "uvu/assert";
import { ToolLimits } from "../../src/config/policies.js";
import { limitsFor, payloadLimitFor, RateLimiter } from "../../src/gateway/index.js";

const limits = ToolLimits.parse({
  defaults: { max_payload_bytes: 1000, timeout_ms: 100, rate_per_minute: 60, burst: 5 },
  tools: { fast_tool: { rate_per_minute: 6000, burst: 500, max_payload_bytes: 4000 } },
  agents: { monitor: { burst: 9000, timeout_ms: 900 } },
});

test("limits resolve field by field: agent, then tool, then defaults", () => {
  assert.equal(limitsFor(limits, "fast_tool", "someone"), { max_payload_bytes: 4000, timeout_ms: 100, rate_per_minute: 6000, burst: 500 });
  assert.equal(limitsFor(limits, "fast_tool", "monitor"), { max_payload_bytes: 4000, timeout_ms: 900, rate_per_minute: 6000, burst: 9000 });
  assert.equal(limitsFor(limits, "slow_tool", "monitor"), { max_payload_bytes: 1000, timeout_ms: 900, rate_per_minute: 60, burst: 9000 });
  assert.is(payloadLimitFor(limits, "fast_tool"), 4000);
  assert.is(payloadLimitFor(limits, "unknown_tool"), 1000);
});

test("token bucket: burst, then one token per 60000/rate ms", () => {
  const rl = new RateLimiter();
  const spec = { rate_per_minute: 60, burst: 2 };
  assert.ok(rl.take("a", spec, 0).allowed);
  assert.ok(rl.take("a", spec, 0).allowed);
  const refused = rl.take("a", spec, 0);
  assert.equal(refused, { allowed: false, retryAfterMs: 1000 });
  assert.equal(rl.take("a", spec, 400), { allowed: false, retryAfterMs: 600 });
  assert.ok(rl.take("a", spec, 1000).allowed);
  assert.not.ok(rl.take("a", spec, 1000).allowed);
  // Idle time refills up to the burst, never beyond.
  assert.ok(rl.take("a", spec, 3_600_000).allowed);
  assert.ok(rl.take("a", spec, 3_600_000).allowed);
  assert.not.ok(rl.take("a", spec, 3_600_000).allowed);
});

test("token bucket: idle full buckets are swept when the map grows large", () => {
  const rl = new RateLimiter();
  const spec = { rate_per_minute: 60, burst: 1 };
  for (let i = 0; i < 10_000; i++) rl.take(`agent-${i}`, spec, 0);
  assert.is(rl.size(), 10_000);
  rl.take("late", spec, 120_000);
  assert.is(rl.size(), 1);
});

test.run();
