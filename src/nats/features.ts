/** What the JetStream server can do beyond the 2.9 baseline, read at start-up. */
export interface ServerFeatures {
  version: string;
  /** `term` with a reason is recorded by 2.10+; 2.9 ignores it silently. */
  termReason: boolean;
  /** Consumers with several filter subjects (2.10+). */
  multiFilter: boolean;
}

function atLeast(version: string, major: number, minor: number): boolean {
  const [maj = 0, min = 0] = version.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  return maj > major || (maj === major && minor <= min);
}

/** Reads what the server supports beyond the 2.9 baseline opsbus targets. */
export function detectFeatures(version: string): ServerFeatures {
  const v210 = atLeast(version, 2, 10);
  return { version, termReason: v210, multiFilter: v210 };
}
