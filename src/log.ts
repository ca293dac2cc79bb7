import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger } from "pino";

export type { Logger };

/** Paths pino blanks out wherever they appear in a log record. */
const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "password",
  "*.password",
  "apiKey",
  "*.apiKey",
  "key",
  "*.key",
  "dsn",
  "*.dsn",
  "databaseUrl",
  "*.databaseUrl",
];

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function maskDsn(dsn: string): string {
  return dsn.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, "$1:***@");
}

/** Removes secrets that might sit inside free text: DSN passwords, bearer tokens, Basic credentials. */
export function scrubSecrets(text: string): string {
  // Bounded quantifiers: unbounded ones backtrack quadratically on long runs of letters.
  return text
    .replace(/([a-z][a-z0-9+.-]{0,31}:\/\/[^:/@\s]{0,256}):[^@\s]{0,1024}@/gi, "$1:***@")
    .replace(/(bearer\s{1,16})[^\s"',]{1,4096}/gi, "$1***")
    // Only after "Authorization": "basic" alone is an ordinary word.
    .replace(/(authorization["':\s]{0,8}basic\s{1,16})[A-Za-z0-9+/=]{1,4096}/gi, "$1***");
}

/** Error properties that carry live objects (connections, sockets) rather than facts about the error. */
const ERR_FIELDS_DROPPED = ["client", "connection", "socket", "request", "response"] as const;

export interface LoggerOptions {
  level?: string;
  /** Tests pass a stream to capture and assert on log lines. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? "info";
  return pino(
    {
      level,
      base: { app: "opsbus" },
      redact: { paths: REDACT_PATHS, censor: "***" },
      serializers: {
        err: (err: unknown) => {
          const s = stdSerializers.err(err as Error);
          // pg attaches the whole client (connection parameters included) to pool errors.
          if (s) for (const key of ERR_FIELDS_DROPPED) delete (s as Record<string, unknown>)[key];
          if (s && typeof s.message === "string") s.message = scrubSecrets(s.message);
          if (s && typeof s.stack === "string") s.stack = scrubSecrets(s.stack);
          return s;
        },
      },
      timestamp: stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}
