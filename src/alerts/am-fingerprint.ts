/**
 * Alertmanager's alert fingerprint (prometheus/common `model.LabelSet.Fingerprint`): FNV-1a 64 over
 * the label names in sorted order, each name and value followed by a 0xff byte, as 16 hex digits.
 * The same label set gets the same fingerprint here and in Alertmanager, so Prometheus's re-sends
 * dedupe and `amtool` shows the ids it would show against Alertmanager.
 */
const SEPARATOR = 0xff;
const encoder = new TextEncoder();
/** Two hex digits per byte: a uint32's 8 digits from this table take a tenth of `toString(16)`'s time. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const hex8 = (n: number) => HEX[n >>> 24]! + HEX[(n >>> 16) & 255]! + HEX[(n >>> 8) & 255]! + HEX[n & 255]!;

/**
 * `names` sorted in place, in `sort()`'s order (UTF-16 units). Insertion sort: a label set has a
 * handful of names, and the built-in sort allocated about 1 KB of work arrays per call, most of
 * what a process mapping alerts allocated outside the alerts themselves.
 */
function sortNames(names: string[]): string[] {
  for (let i = 1; i < names.length; i++) {
    const name = names[i]!;
    let j = i - 1;
    for (; j >= 0 && names[j]! > name; j--) names[j + 1] = names[j]!;
    names[j + 1] = name;
  }
  return names;
}

export function labelSetFingerprint(labels: Readonly<Record<string, string>>): string {
  /*
   * 64-bit FNV-1a state as two 32-bit halves (JS numbers cannot hold 64-bit products, but each
   * half times the prime's low part, 435, stays under 2^53), kept in locals of this one function:
   * as module variables every byte stored two heap numbers (most halves are over 2^31), and that
   * allocation was most of the hash's time.
   */
  // FNV-64 offset basis 0xcbf29ce484222325.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const names = sortNames(Object.keys(labels));
  for (let n = 0; n < names.length * 2; n++) {
    const name = names[n >> 1]!;
    const text = (n & 1) === 0 ? name : labels[name]!;
    // The text's UTF-8 bytes: its UTF-16 units while they are ASCII, then the encoder's bytes for the rest.
    let bytes: Uint8Array | undefined;
    const count = text.length;
    for (let i = 0, end = count; i <= end; i++) {
      let byte: number;
      if (i === end) byte = SEPARATOR;
      else if (bytes !== undefined) byte = bytes[i]!;
      else {
        byte = text.charCodeAt(i);
        if (byte >= 0x80) {
          bytes = encoder.encode(text.slice(i));
          end = bytes.length;
          i = -1;
          continue;
        }
      }
      // h = (h ^ byte) * 0x100000001b3 = h * 435 + (h << 40), mod 2^64.
      lo = (lo ^ byte) >>> 0;
      const t = lo * 435;
      const low = t >>> 0;
      hi = (hi * 435 + (t - low) / 4294967296 + ((lo << 8) >>> 0)) >>> 0;
      lo = low;
    }
  }
  return hex8(hi) + hex8(lo);
}
