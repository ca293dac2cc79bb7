/**
 * The label set silences, maintenance windows and inhibition rules match on: an alert's own
 * `labels` plus its five normalised fields.
 */
import type { AlertRecord } from "../subjects/index.js";

/** Label name → value, on a null-prototype object (a `__proto__` or `constructor` label is just a label). */
export type Labels = Readonly<Record<string, string>>;

export const MAPPED_FIELDS = ["service", "env", "kind", "severity", "source"] as const;

export type LabelledAlert = Pick<AlertRecord, (typeof MAPPED_FIELDS)[number] | "labels">;

/**
 * The alert's labels (numbers and booleans as their text), then service, env, kind, severity and
 * source over them. The mapped fields win because they are the values opsbus routes, groups and
 * opens incidents on: a silence or an inhibition rule written as `severity="P0"` or `env="prod"`
 * must mean the same alerts everywhere, whichever intake they came through, and a label a monitor
 * happens to send (an Alertmanager `severity="critical"`, which intake already mapped to P0)
 * cannot make an alert slip past a rule written on the field. Labels with any other name (job,
 * alertname, instance...) are matched exactly as sent, as Alertmanager matches them.
 */
export function alertLabels(alert: LabelledAlert): Labels {
  const out: Record<string, string> = Object.create(null);
  const own = alert.labels;
  for (const name of Object.keys(own)) out[name] = String(own[name]);
  for (const field of MAPPED_FIELDS) out[field] = String(alert[field]);
  return out;
}

/**
 * The same alert as its sender labelled it: own labels over the mapped fields, or undefined when
 * no own label differs from its mapped field. Silences and maintenance windows match either view,
 * so `amtool silence add severity=critical` (what `GET /api/v2/alerts` shows) and `severity="P0"`
 * (what opsbus routes on) both silence an Alertmanager `critical` alert. Inhibition rules, written
 * in config against opsbus's vocabulary, use `alertLabels` alone.
 */
export function senderLabels(alert: LabelledAlert, mapped: Labels): Labels | undefined {
  const own = alert.labels;
  if (!MAPPED_FIELDS.some((f) => Object.hasOwn(own, f) && String(own[f]) !== mapped[f])) return undefined;
  const out: Record<string, string> = Object.create(null);
  for (const name of Object.keys(mapped)) out[name] = mapped[name]!;
  for (const f of MAPPED_FIELDS) if (Object.hasOwn(own, f)) out[f] = String(own[f]);
  return out;
}
