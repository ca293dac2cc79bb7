/**
 * ISO 8601 times as the stores keep them: text in `toISOString()`'s form is recognised and read
 * from its digits; any other text goes through `Date.parse`.
 */

/** The number in `s` at [from, from + n), or -1 when those are not all digits. */
function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * True when `s` is exactly what `toISOString()` writes for a year 0000–9999
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`) and names a real instant, so `new Date(s).toISOString() === s`:
 * the time needs no parsing and formatting again (a third of a mapped alert's normalising).
 */
export function isCanonicalIso(s: string): boolean {
  if (s.length !== 24 || s.charCodeAt(23) !== 90 /* Z */ || s.charCodeAt(10) !== 84 /* T */ || s.charCodeAt(19) !== 46 /* . */) return false;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || digits(s, 20, 3) < 0) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS[month - 1]!);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (any year; integer arithmetic, no Date). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** `Date.parse(s)` for a text `isCanonicalIso` accepts, read from its digits; NaN for any other text. */
export function canonicalIsoMs(s: string): number {
  if (!isCanonicalIso(s)) return Number.NaN;
  const days = daysFromCivil(digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2));
  return days * 86_400_000 + digits(s, 11, 2) * 3_600_000 + digits(s, 14, 2) * 60_000 + digits(s, 17, 2) * 1000 + digits(s, 20, 3);
}

/** ISO form when the text is a valid timestamp, so every backend stores the same string. */
export function normaliseTime(value: string): string {
  if (isCanonicalIso(value)) return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}

/** `Date.parse(s)`, read from the digits when `s` is in toISOString's form. */
export function isoTimeMs(s: string): number {
  const ms = canonicalIsoMs(s);
  return Number.isNaN(ms) ? Date.parse(s) : ms;
}
