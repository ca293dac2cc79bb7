/**
 * A silence as opsbus stores it: Alertmanager's model (matchers over an alert's labels between
 * `starts_at` and `ends_at`), so `amtool silence` and the v2 API map onto it field for field.
 * Expiring a silence moves `ends_at` to now; a silence is never deleted before its retention ends,
 * so an expired one can never come back as active.
 */
export interface SilenceMatcher {
  name: string;
  value: string;
  is_regex: boolean;
  /** False for `!=` / `!~`. Alertmanager's default when absent is true. */
  is_equal: boolean;
}

export type SilenceState = "pending" | "active" | "expired";

export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  starts_at: string;
  ends_at: string;
  /** The authenticated caller that created or last changed it, never a body field. */
  created_by: string;
  comment: string;
  updated_at: string;
}

/** Pending before `starts_at`, active until `ends_at`, expired from `ends_at` on (Alertmanager's rule). */
export function silenceState(s: Pick<Silence, "starts_at" | "ends_at">, now: Date): SilenceState {
  const t = now.getTime();
  if (Date.parse(s.ends_at) <= t) return "expired";
  return Date.parse(s.starts_at) > t ? "pending" : "active";
}
