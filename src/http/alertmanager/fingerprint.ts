/**
 * Alertmanager's alert fingerprint (prometheus/common `model.LabelSet.Fingerprint`): FNV-1a 64 over
 * the label names in sorted order, each name and value followed by a 0xff byte, as 16 hex digits.
 * The same label set gets the same fingerprint here and in Alertmanager, so Prometheus's re-sends
 * dedupe and `amtool` shows the ids it would show against Alertmanager.
 */
const SEPARATOR = 0xff;
const encoder = new TextEncoder();

/**
 * 64-bit FNV-1a state as two 32-bit halves (JS numbers cannot hold 64-bit products, but each
 * half times the prime's low part, 435, stays under 2^53). One hash at a time: no allocation.
 */
let hi = 0;
let lo = 0;

function addByte(byte: number): void {
  lo = (lo ^ byte) >>> 0;
  // h * 0x100000001b3 = h * 435 + (h << 40), mod 2^64.
  const t = lo * 435;
  const low = t >>> 0;
  hi = (hi * 435 + (t - low) / 4294967296 + ((lo << 8) >>> 0)) >>> 0;
  lo = low;
}

function addText(s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      for (const b of encoder.encode(s.slice(i))) addByte(b);
      return;
    }
    addByte(c);
  }
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

export function labelSetFingerprint(labels: Readonly<Record<string, string>>): string {
  // FNV-64 offset basis 0xcbf29ce484222325.
  hi = 0xcbf29ce4;
  lo = 0x84222325;
  for (const name of Object.keys(labels).sort()) {
    addText(name);
    addByte(SEPARATOR);
    addText(labels[name]!);
    addByte(SEPARATOR);
  }
  return hex8(hi) + hex8(lo);
}
