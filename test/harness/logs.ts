import { createLogger, type Logger } from "../../src/log.js";

export interface CapturedLogger {
  logger: Logger;
  /** Every line written so far, parsed from JSON. */
  lines(): Record<string, unknown>[];
  /** The raw output, for substring checks (e.g. "the secret never appears"). */
  text(): string;
}

/**
 * A real opsbus logger (same redaction and serialisers as production) writing into memory, so
 * tests assert on the JSON lines it produces. Defaults to `trace` so nothing is filtered out.
 */
export function captureLogger(level = "trace"): CapturedLogger {
  const chunks: string[] = [];
  // pino writes synchronously to any object with write(); no stream machinery needed.
  const destination = { write: (chunk: string) => void chunks.push(chunk) };
  const logger = createLogger({ level, destination });
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, text };
}
