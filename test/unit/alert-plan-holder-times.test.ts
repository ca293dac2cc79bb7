/**
 * A backend may give a holder's times as epoch ms (Postgres does) instead of ISO text: the plan is
 * the same either way, for re-sends with the same start in any time form, other starts, refires
 * and resolves.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planIngest, type Holder } from "../../src/alerts/ingest-plan.js";
import type { IngestItem } from "../../src/alerts/store.js";
import { seededRng } from "../harness/fuzz.js";

const NOW = new Date("2026-12-03T10:00:00.000Z");
const r = seededRng(31);
const iso = (ms: number) => new Date(ms).toISOString();
/** The same instant in a form other than toISOString's, now and then. */
const sent = (ms: number) => (r.chance(0.3) ? iso(ms).replace(".000Z", "Z").replace("Z", "+00:00") : iso(ms));

function item(fp: string, startMs: number, k: number): IngestItem {
  const resolve = r.chance(0.1);
  return {
    alert: { fingerprint: fp, service: "svc", title: "t", kind: "custom", severity: "P2", env: "prod", source: "s", labels: {}, meta: {}, starts_at: sent(startMs) },
    dedupe_ttl_minutes: 60,
    ends_at: iso(NOW.getTime() + (r.chance(0.2) ? -60_000 : 3_600_000)),
    explicit_start: true,
    ...(resolve ? { resolve: true as const } : {}),
    receipt_key: `k${k}`,
  };
}

test("holders as text and as epoch ms give the same plan", () => {
  for (let round = 0; round < 300; round++) {
    const fps = Array.from({ length: 1 + r.int(5) }, (_, i) => `fp${i}`);
    const starts = fps.map(() => NOW.getTime() - (1 + r.int(5)) * 60_000);
    const stored = new Map<string, { ref: string; start: number; ends: number; until: number; resolved?: number }>();
    for (const [i, fp] of fps.entries()) {
      if (r.chance(0.2)) continue;
      const ends = NOW.getTime() + (r.chance(0.3) ? -120_000 : 600_000);
      stored.set(fp, { ref: `alrt_${i}`, start: starts[i]!, ends, until: NOW.getTime() + (r.chance(0.1) ? -1 : 600_000), ...(r.chance(0.1) ? { resolved: ends } : {}) });
    }
    const items = Array.from({ length: 1 + r.int(12) }, (_, k) => {
      const i = r.int(fps.length);
      return item(fps[i]!, r.chance(0.6) ? starts[i]! : starts[i]! + 1000, k);
    });
    const asText = (fp: string): Holder | undefined => {
      const s = stored.get(fp);
      if (!s) return undefined;
      return { alert_ref: s.ref, occurrences: 3, dedupe_until: iso(s.until), starts_at: iso(s.start), ends_at: iso(s.ends), ...(s.resolved ? { resolved_at: iso(s.resolved) } : {}) };
    };
    const asMs = (fp: string): Holder | undefined => {
      const s = stored.get(fp);
      if (!s) return undefined;
      return { alert_ref: s.ref, occurrences: 3, until_ms: s.until, starts_ms: s.start, ends_at: iso(s.ends), ends_ms: s.ends, ...(s.resolved ? { resolved_at: iso(s.resolved) } : {}) };
    };
    const refs = () => {
      let n = 0;
      return () => `new_${n++}`;
    };
    const [a, b] = [asText, asMs].map((holder) => {
      const ref = refs();
      return planIngest(items.map((x) => structuredClone(x)), NOW, { receipt: () => undefined, holder, newRef: ref });
    });
    assert.equal(b, a, JSON.stringify({ items, stored: [...stored] }));
  }
});

test.run();
