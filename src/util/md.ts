/** Markdown helpers shared by the digest and the reports. */

/** One table cell: no newlines, pipes escaped, long text cut. */
export function cell(value: unknown, max = 200): string {
  const s = value === undefined || value === null || value === "" ? "—" : String(value);
  const one = s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export function table(header: string[], rows: unknown[][]): string[] {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map((c) => cell(c)).join(" | ")} |`)];
}

/** Cuts at a line boundary under `max` characters, saying so. */
export function capMarkdown(md: string, max: number): string {
  if (md.length <= max) return md;
  const note = "\n\n_…truncated; the JSON file has everything._\n";
  const cut = md.lastIndexOf("\n", max - note.length);
  return md.slice(0, cut > 0 ? cut : max - note.length) + note;
}

export function minutesText(min: number | null | undefined): string {
  if (min === null || min === undefined) return "—";
  if (min < 60) return `${Math.round(min)} min`;
  const h = Math.floor(min / 60);
  const m = Math.round(min % 60);
  return h < 48 ? `${h} h ${m} min` : `${Math.floor(h / 24)} d ${h % 24} h`;
}
