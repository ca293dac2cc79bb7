/** One classification of failures for every worker: what retrying later can fix, and what it cannot. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OpsError, invalid, toOpsError, unavailable } from "../../src/errors.js";
import { defaultRetryBaseMs, isTransient, retryTransient, transientBackoffMs } from "../../src/util/transient.js";

const pgError = (code: string, message = "pg says no") => Object.assign(new Error(message), { code });

test("connection refused/reset/timeout, pg connection classes, pool exhaustion and unavailable are transient", () => {
  for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "57P01", "53300", "08006", "08001", "40001"]) {
    assert.ok(isTransient(pgError(code)), code);
  }
  assert.ok(isTransient(new Error("timeout exceeded when trying to connect")), "pg-pool exhaustion");
  assert.ok(isTransient(new Error("Connection terminated unexpectedly")));
  assert.ok(isTransient(unavailable("store down")), "gateway unavailable");
  assert.ok(isTransient({ code: "unavailable", message: "wire form" }), "a reply's error");
  assert.ok(isTransient(Object.assign(new Error("timeout"), { name: "TimeoutError" })), "NATS request timeout");
  assert.ok(isTransient(Object.assign(new Error("no leader"), { name: "JetStreamApiError", status: 503 })), "JetStream 503");
  assert.ok(isTransient(new Error("wrapped", { cause: pgError("ECONNREFUSED") })), "through cause");
  assert.ok(isTransient(new AggregateError([pgError("ECONNREFUSED")], "all hosts failed")), "through AggregateError");
});

test("bugs, bad data and refusals are deterministic", () => {
  assert.not.ok(isTransient(new TypeError("cannot read properties of undefined")));
  assert.not.ok(isTransient(pgError("22P05", "unsupported Unicode escape sequence")), "NUL in text");
  assert.not.ok(isTransient(pgError("23505", "duplicate key")));
  assert.not.ok(isTransient(invalid("bad params")));
  assert.not.ok(isTransient(new OpsError("internal", "internal error")));
  assert.not.ok(isTransient(Object.assign(new Error("bad request"), { name: "JetStreamApiError", status: 400 })));
  assert.not.ok(isTransient(null));
  assert.not.ok(isTransient("ECONNREFUSED"), "a bare string is not an error shape");
});

test("toOpsError: a transient unknown error becomes unavailable (retry), other unknown errors internal", () => {
  assert.is(toOpsError(new Error("timeout exceeded when trying to connect")).code, "unavailable");
  assert.is(toOpsError(pgError("57P01")).code, "unavailable");
  assert.is(toOpsError(new TypeError("x is not a function")).code, "internal");
  assert.is(toOpsError(new TypeError("x is not a function")).message, "internal error", "no internal text leaks");
});

test("backoff grows, is capped and jittered down by at most 25%", () => {
  const fixed = { random: () => 0 };
  assert.is(transientBackoffMs(1, fixed), 1000);
  assert.is(transientBackoffMs(3, fixed), 4000);
  assert.is(transientBackoffMs(20, fixed), 60_000);
  assert.is(transientBackoffMs(1, { random: () => 1 }), 750);
});

test("OPSBUS_RETRY_BASE_MS sets the first wait; a value that is not a positive integer keeps 1 s", () => {
  assert.is(defaultRetryBaseMs({ OPSBUS_RETRY_BASE_MS: "50" }), 50);
  for (const bad of ["", "0", "-5", "1.5", "soon"]) assert.is(defaultRetryBaseMs({ OPSBUS_RETRY_BASE_MS: bad }), 1000, bad);
  assert.is(defaultRetryBaseMs({}), 1000);
});

test("retryTransient retries transient failures until success and throws a deterministic one at once", async () => {
  let calls = 0;
  const retries: number[] = [];
  const out = await retryTransient(
    async () => {
      calls++;
      if (calls < 4) throw pgError("ECONNREFUSED");
      return "ok";
    },
    { baseMs: 1, maxDelayMs: 2, onRetry: (_e, n) => retries.push(n) },
  );
  assert.is(out, "ok");
  assert.equal(retries, [1, 2, 3]);
  let det = 0;
  const err = await retryTransient(async () => {
    det++;
    throw new TypeError("bug");
  }, { baseMs: 1 }).catch((e: unknown) => e);
  assert.instance(err, TypeError);
  assert.is(det, 1, "a deterministic failure is not retried here");
});

test("retryTransient gives up with the transient error when its signal aborts (a stopping worker)", async () => {
  const ac = new AbortController();
  let calls = 0;
  const p = retryTransient(async () => {
    calls++;
    throw pgError("ETIMEDOUT");
  }, { signal: ac.signal, baseMs: 60_000, onRetry: () => ac.abort() });
  const err = (await p.catch((e: unknown) => e)) as { code?: string };
  assert.is(err.code, "ETIMEDOUT");
  assert.is(calls, 1);
});

test.run();
