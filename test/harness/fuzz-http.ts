/**
 * HTTP for the fuzz suites: a request with every header line as given, and what the receiver will
 * make of the headers a mutation left (how many Authorization values, which Content-Type).
 */
import { request as httpRequest } from "node:http";
import type { MutantHeaders } from "./fuzz.js";

export interface HttpAnswer { status: number; text: string }

/**
 * A POST with every header line as given: names differing only in case and arrays become
 * repeated lines (fetch would fold them into one). Values are kept printable ASCII.
 */
export function httpPost(url: string, body: Uint8Array, h: MutantHeaders): Promise<HttpAnswer> {
  return httpSend("POST", url, body, h);
}

/**
 * Any method, headers as httpPost sends them; the path goes out byte for byte as given (a bad
 * percent-escape too). Without a body no Content-Type is added.
 */
export function httpSend(method: string, url: string, body: Uint8Array | undefined, h: MutantHeaders): Promise<HttpAnswer> {
  const lines: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(h)) (lines[k.toLowerCase()] ??= []).push(...(typeof v === "string" ? [v] : v).map((x) => x.replace(/[^\x20-\x7e\t]/g, "?")));
  if (body) lines["content-type"] ??= ["application/json"];
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: lines, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body ? Buffer.from(body) : undefined);
  });
}

/** Every value of a header under any spelling of its name. */
function valuesOf(h: MutantHeaders, name: string): string[] {
  return Object.entries(h).filter(([k]) => k.toLowerCase() === name).flatMap(([, v]) => (typeof v === "string" ? [v] : v));
}

/** More than one Authorization value: refused (400) wherever a key is read. */
export const twoAuthorizations = (h: MutantHeaders): boolean => valuesOf(h, "authorization").length > 1;

/** A Content-Type the JSON routes refuse (415); httpPost sends application/json when none is set. */
export const notJson = (h: MutantHeaders): boolean => valuesOf(h, "content-type").some((v) => !/^application\/json\b/i.test(v.trim()));
