/**
 * Alerts held in Maps. For tests and dev; the factory refuses it in prod (alerts are lost on
 * restart). The JSONL backend extends it with a file under the same state.
 */
import type { AlertRecord, AlertStatus } from "../../subjects/index.js";
import { SerialStore } from "../serial.js";
import { isResolved, planIngest, type AlertBump, type IngestPlan, type StoredReceipt } from "../../alerts/ingest-plan.js";
import { applyPatch, guardHolds, windowStart } from "../../alerts/query-rules.js";
import { ReceiptMap } from "./receipt-map.js";
import { AlertMap, dashboardOf, lapsedClaimsOf, listRecords, statusCountsOf } from "./query.js";
import {
  isNewer,
  type AlertDashboard,
  type AlertQuery,
  type AlertRow,
  type AlertStatePatch,
  type AlertStateGuard,
  type AlertStore,
  type IngestItem,
  type IngestResult,
} from "../../alerts/store.js";

const clone = <T>(value: T): T => structuredClone(value);

const isLifecycle = (b: AlertBump) => b.ends_at !== undefined || b.resolved_at !== undefined || b.reset_work === true;
const WORK_FIELDS = ["owner", "lock_until", "last_error", "retry_at", "ack_note", "acked_at", "delivery"] as const;

/** `rec` with the bump applied, in place. */
export function bumpedRecord(rec: AlertRecord, b: AlertBump, lastSeenAt: string): AlertRecord {
  rec.occurrences = Math.max(rec.occurrences, b.occurrences);
  rec.last_seen_at = lastSeenAt;
  if (b.ends_at !== undefined) rec.ends_at = b.ends_at;
  if (b.starts_at !== undefined) rec.starts_at = b.starts_at;
  if (b.resolved_at === null) delete rec.resolved_at;
  else if (b.resolved_at !== undefined) rec.resolved_at = b.resolved_at;
  if (b.reset_work) {
    rec.status = "new";
    rec.attempts = 0;
    rec.dead = false;
    for (const f of WORK_FIELDS) delete rec[f];
  }
  return rec;
}

export class MemoryAlertStore extends SerialStore<AlertRow> implements AlertStore {
  readonly backendName: string = "MemoryAlertStore";
  /** Indexed by last_seen_at and by claim (see AlertMap), so window reads walk only the window. */
  protected alerts = new AlertMap();
  /** fingerprint → alert_ref of the alert holding it (the one with the latest dedupe_until). */
  protected pointers = new Map<string, string>();
  protected receipts = new ReceiptMap();

  /** Records held in process memory (alerts and receipts); health warns past JSONL_WARN_RECORDS. */
  get recordsInMemory(): number {
    return this.alerts.size + this.receipts.size;
  }

  /** Called with an ingest's plan before it is applied; by default its changes as rows. */
  protected persistIngest(plan: IngestPlan): Promise<void> {
    const rows: AlertRow[] = plan.created.map((data): AlertRow => ({ kind: "alert", data }));
    for (const b of plan.bumped) {
      const rec = this.alerts.get(b.alert_ref);
      if (rec) rows.push({ kind: "alert", data: bumpedRecord({ ...rec }, b, plan.now) });
    }
    for (const data of plan.receipts) rows.push({ kind: "receipt", data });
    return this.persist(rows);
  }


  protected putAlert(rec: AlertRecord): void {
    this.alerts.set(rec.alert_ref, rec);
    const holderRef = this.pointers.get(rec.fingerprint);
    const holder = holderRef === undefined ? undefined : this.alerts.get(holderRef);
    if (!holder || holder.alert_ref === rec.alert_ref || Date.parse(rec.dedupe_until) > Date.parse(holder.dedupe_until)) {
      this.pointers.set(rec.fingerprint, rec.alert_ref);
    }
  }

  /**
   * Counts only ever grow: a bump older than the stored count changes nothing. Lifecycle changes
   * (a refresh, a resolve) apply in order at an equal count, and so does a sighting that moves
   * last_seen on (a refresh of an alert without an end changes nothing else).
   */
  protected applyBumps(bumped: IngestPlan["bumped"], lastSeenAt: string): void {
    for (const b of bumped) {
      const rec = this.alerts.get(b.alert_ref);
      if (!rec || b.occurrences < rec.occurrences) continue;
      if (b.occurrences === rec.occurrences && !isLifecycle(b) && lastSeenAt <= rec.last_seen_at) continue;
      bumpedRecord(rec, b, lastSeenAt);
      this.alerts.track(rec);
    }
  }

  protected putReceipt(r: StoredReceipt): void {
    this.receipts.add(r);
  }

  ingestBatch(items: IngestItem[], now: Date): Promise<IngestResult[]> {
    return this.exclusive(async () => {
      const plan = planIngest(items, now, {
        receipt: (key) => this.receipts.result(key),
        holder: (fp) => {
          const ref = this.pointers.get(fp);
          return ref === undefined ? undefined : this.alerts.get(ref);
        },
      });
      await this.persistIngest(plan);
      // The plan's records are fresh objects owned by this store from here on, and stored records
      // never leave it uncloned: counting updates them in place, no copies on the hot path.
      for (const rec of plan.created) this.putAlert(rec);
      this.applyBumps(plan.bumped, plan.now);
      for (const r of plan.receipts) this.putReceipt(r);
      return plan.results;
    });
  }

  async get(alertRef: string): Promise<AlertRecord | null> {
    const rec = this.alerts.get(alertRef);
    return rec ? clone(rec) : null;
  }

  async getMany(alertRefs: string[]): Promise<AlertRecord[]> {
    const out: AlertRecord[] = [];
    for (const ref of new Set(alertRefs)) {
      const rec = this.alerts.get(ref);
      if (rec) out.push(clone(rec));
    }
    return out;
  }

  async list(query: AlertQuery, now: Date): Promise<AlertRecord[]> {
    // A read that names the service walks that service's alerts (by severity and kind when named),
    // not every alert of the window: inhibition reads run per ingest batch.
    const { env, service } = query;
    const found =
      env !== undefined && service !== undefined
        ? listRecords(this.alerts.ofService(env, service, query.severity_in, query.kind_in), query, now)
        : listRecords(this.alerts.seenSince(windowStart(query.window_minutes, now)), query, now, true);
    return clone(found);
  }

  async statusCounts(windowMinutes: number, now: Date): Promise<Record<AlertStatus, number>> {
    return statusCountsOf(this.alerts.seenSince(windowStart(windowMinutes, now)), now);
  }

  async lapsedClaims(now: Date, minDeliveries: number, limit: number): Promise<AlertRecord[]> {
    return clone(lapsedClaimsOf(this.alerts.claims(), now, minDeliveries, limit));
  }

  updateState(alertRef: string, guard: AlertStateGuard, patch: AlertStatePatch): Promise<AlertRecord | null> {
    return this.exclusive(async () => {
      const rec = this.alerts.get(alertRef);
      if (!rec || !guardHolds(rec, guard)) return null;
      const next = applyPatch(rec, clone(patch));
      await this.persist([{ kind: "alert", data: next }]);
      this.alerts.set(alertRef, next);
      return clone(next);
    });
  }

  updateStates(items: Array<{ alert_ref: string; patch: AlertStatePatch }>): Promise<number> {
    return this.exclusive(async () => {
      const next = items.flatMap(({ alert_ref, patch }) => {
        const rec = this.alerts.get(alert_ref);
        return rec ? [applyPatch(rec, clone(patch))] : [];
      });
      await this.persist(next.map((data) => ({ kind: "alert" as const, data })));
      for (const rec of next) this.alerts.set(rec.alert_ref, rec);
      return next.length;
    });
  }

  resolveExpired(now: Date, limit: number): Promise<AlertRecord[]> {
    return this.exclusive(async () => {
      const nowMs = now.getTime();
      const due: AlertRecord[] = [];
      for (const rec of this.alerts.values()) {
        if (due.length >= limit) break;
        if (rec.resolved_at === undefined && rec.ends_at !== undefined && Date.parse(rec.ends_at) <= nowMs) due.push({ ...rec, resolved_at: rec.ends_at });
      }
      await this.persist(due.map((data) => ({ kind: "alert" as const, data })));
      for (const rec of due) this.alerts.set(rec.alert_ref, rec);
      return clone(due);
    });
  }

  resolve(alertRef: string, now: Date): Promise<AlertRecord | null> {
    return this.exclusive(async () => {
      const rec = this.alerts.get(alertRef);
      if (!rec || rec.resolved_at !== undefined) return null;
      const at = now.toISOString();
      const next: AlertRecord = { ...rec, resolved_at: at, ends_at: isResolved(rec, now.getTime()) && rec.ends_at ? rec.ends_at : at };
      await this.persist([{ kind: "alert", data: next }]);
      this.alerts.set(alertRef, next);
      return clone(next);
    });
  }

  async dashboard(windowMinutes: number, now: Date, latest?: number): Promise<AlertDashboard> {
    return clone(dashboardOf(this.alerts.seenSince(windowStart(windowMinutes, now)), windowMinutes, now, latest));
  }

  purgeOlderThan(cutoff: Date): Promise<number> {
    return this.exclusive(async () => {
      const limit = cutoff.getTime();
      let deleted = 0;
      for (const [ref, rec] of this.alerts) {
        if (Date.parse(rec.last_seen_at) >= limit) continue;
        this.alerts.delete(ref);
        if (this.pointers.get(rec.fingerprint) === ref) this.pointers.delete(rec.fingerprint);
        deleted++;
      }
      const receipts = this.receipts.dropOlderThan(limit);
      if (deleted || receipts) await this.persistAll();
      return deleted;
    });
  }

  async exportRows(): Promise<AlertRow[]> {
    return clone([...this.rows()]);
  }

  importRows(rows: AlertRow[]): Promise<void> {
    return this.exclusive(async () => {
      const changed: AlertRow[] = [];
      const alerts = new Map<string, AlertRecord>();
      for (const row of rows) {
        if (row.kind === "alert") {
          const best = alerts.get(row.data.alert_ref) ?? this.alerts.get(row.data.alert_ref);
          if (isNewer(row.data, best)) alerts.set(row.data.alert_ref, row.data);
        } else if (!this.receipts.has(row.data.receipt_key)) {
          changed.push(clone(row));
        }
      }
      for (const data of alerts.values()) changed.push({ kind: "alert", data: clone(data) });
      await this.persist(changed);
      for (const row of changed) {
        if (row.kind === "alert") this.putAlert(row.data);
        else this.putReceipt(row.data);
      }
    });
  }

  clearRows(): Promise<void> {
    return this.exclusive(async () => {
      this.alerts.clear();
      this.pointers.clear();
      this.receipts.clear();
      await this.persistAll();
    });
  }

  /** Every alert and receipt as replay rows. */
  protected *rows(): Iterable<AlertRow> {
    for (const data of this.alerts.values()) yield { kind: "alert", data };
    for (const data of this.receipts.values()) yield { kind: "receipt", data };
  }
}
