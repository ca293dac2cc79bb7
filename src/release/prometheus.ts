/**
 * A minimal Prometheus HTTP API client: one instant query (GET /api/v1/query) answering a number.
 * Every way it can go wrong (refused, timed out, HTTP error, Prometheus error, odd body) becomes a
 * SloSourceError with a message an operator can act on.
 */
import { z } from "zod";

/** A source that could not be read; the gate reports it as "slo source unavailable: …". */
export class SloSourceError extends Error {
  override name = "SloSourceError";
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(message);
  }
}

/** Longest error body quoted in a message. */
const MAX_QUOTED_CHARS = 300;

const Sample = z.tuple([z.number(), z.string()]);
const QueryResponse = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.union([
      z.object({ resultType: z.literal("vector"), result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: Sample })) }),
      z.object({ resultType: z.literal("scalar"), result: Sample }),
    ]),
  }),
  z.object({ status: z.literal("error"), errorType: z.string().optional(), error: z.string().optional() }),
]);

export interface InstantValue {
  /** The largest sample over the series answered (the worst for an SLO), NaN and ±Inf excluded; undefined when none. */
  value: number | undefined;
  series: number;
}

/** `{{service}}` / `{{env}}` in a PromQL template; values are label-safe (validated service names). */
export function renderQuery(template: string, vars: { service: string; env: string }): string {
  return template.replace(/\{\{(service|env)\}\}/g, (_m, k: "service" | "env") => vars[k]);
}

function why(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.cause?.code || e?.cause?.message) return e.cause.message ?? e.cause.code ?? String(err);
  return e?.message ?? String(err);
}

export async function instantQuery(
  baseUrl: string,
  query: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<InstantValue> {
  const url = new URL("api/v1/query", baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  url.searchParams.set("query", query);
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const where = `${url.origin}${url.pathname}`;

  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { signal, headers: { accept: "application/json" } });
    text = await res.text();
  } catch (err) {
    if (timeout.aborted) throw new SloSourceError("prometheus", `GET ${where} timed out after ${opts.timeoutMs} ms`);
    if (opts.signal?.aborted) throw err; // the caller's deadline: not the source's fault
    throw new SloSourceError("prometheus", `GET ${where} failed: ${why(err)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new SloSourceError("prometheus", `GET ${where} answered HTTP ${res.status} without JSON: ${text.slice(0, MAX_QUOTED_CHARS)}`);
  }
  const parsed = QueryResponse.safeParse(body);
  if (!parsed.success) throw new SloSourceError("prometheus", `GET ${where} answered HTTP ${res.status} with an unexpected body: ${text.slice(0, MAX_QUOTED_CHARS)}`);
  const r = parsed.data;
  if (r.status === "error") throw new SloSourceError("prometheus", `query refused (${r.errorType ?? `HTTP ${res.status}`}): ${r.error ?? "no message"}`);

  const samples = r.data.resultType === "scalar" ? [r.data.result] : r.data.result.map((s) => s.value);
  const values = samples.map(([, v]) => Number(v)).filter((v) => Number.isFinite(v));
  return { value: values.length ? Math.max(...values) : undefined, series: samples.length };
}
