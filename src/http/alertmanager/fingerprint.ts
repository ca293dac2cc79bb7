/**
 * Alertmanager's alert fingerprint (prometheus/common `model.LabelSet.Fingerprint`): FNV-1a 64 over
 * the label names in sorted order, each name and value followed by a 0xff byte, as 16 hex digits.
 * The same label set gets the same fingerprint here and in Alertmanager, so Prometheus's re-sends
 * dedupe and `amtool` shows the ids it would show against Alertmanager.
 */
const SEPARATOR = 0xff;
const encoder = new TextEncoder();

/** 64-bit FNV-1a state as four 16-bit limbs, low first: JS numbers cannot hold 64-bit products. */
type Fnv = [number, number, number, number];

function addByte(h: Fnv, byte: number): void {
  h[0] ^= byte;
  // h * 0x100000001b3 = h * 435 + (h << 40), limb by limb with carries, mod 2^64.
  const t0 = h[0] * 435;
  const t1 = h[1] * 435;
  const t2 = h[2] * 435 + (h[0] << 8);
  const t3 = h[3] * 435 + (h[1] << 8);
  const c1 = t1 + (t0 >>> 16);
  // Every sum stays under 2^31, so the carries are plain shifts.
  const c2 = t2 + (c1 >>> 16);
  const c3 = t3 + (c2 >>> 16);
  h[0] = t0 & 0xffff;
  h[1] = c1 & 0xffff;
  h[2] = c2 & 0xffff;
  h[3] = c3 & 0xffff;
}

function addText(h: Fnv, s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      for (const b of encoder.encode(s.slice(i))) addByte(h, b);
      return;
    }
    addByte(h, c);
  }
}

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

export function labelSetFingerprint(labels: Readonly<Record<string, string>>): string {
  // FNV-64 offset basis 0xcbf29ce484222325, low limb first.
  const h: Fnv = [0x2325, 0x8422, 0x9ce4, 0xcbf2];
  for (const name of Object.keys(labels).sort()) {
    addText(h, name);
    addByte(h, SEPARATOR);
    addText(h, labels[name]!);
    addByte(h, SEPARATOR);
  }
  return hex4(h[3]) + hex4(h[2]) + hex4(h[1]) + hex4(h[0]);
}
