/** Follows the events of one demo storm until every alert is ingested, on an incident, and triaged. */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { EventEnvelope, type Subjects } from "../subjects/index.js";

export interface DemoProgress {
  accepted: number;
  deduped: number;
  rejected: number;
  onIncident: number;
  incidents: Set<string>;
  escalations: Array<{ incident_id: string; from?: string; to?: string }>;
  triageQueued: number;
  triageDone: number;
  triageFailed: number;
}

export class DemoWatch {
  private readonly sub: Subscription;
  private readonly accepted = new Set<string>();
  private deduped = 0;
  private rejected = 0;
  /** alert_ref → incident, for every incident event seen (ours or not; filtered when counted). */
  private readonly incidentOf = new Map<string, string>();
  private readonly triageRuns = new Map<string, string>();
  private readonly runsDone = new Map<string, "succeeded" | "failed">();
  private readonly escalated: Array<{ incident_id: string; from?: string; to?: string }> = [];
  private wake: (() => void) | undefined;

  constructor(
    nc: NatsConnection,
    subjects: Subjects,
    readonly tag: string,
    private readonly total: number,
  ) {
    this.sub = nc.subscribe(subjects.events.wildcard, { callback: (_err, m) => this.onEvent(m.data) });
  }

  private onEvent(raw: Uint8Array): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(raw));
    } catch {
      return;
    }
    const e = EventEnvelope.safeParse(parsed);
    if (!e.success) return;
    const d = e.data.data as Record<string, unknown>;
    const mine = (fp: unknown) => typeof fp === "string" && fp.startsWith(`demo-${this.tag}-`);
    switch (e.data.type) {
      case "alert.accepted":
        if (d.source === `demo@${this.tag}`) this.accepted.add(String(d.alert_ref));
        break;
      case "alert.deduped":
        for (const a of (d.alerts ?? []) as Array<{ fingerprint?: string; count?: number }>) if (mine(a.fingerprint)) this.deduped += a.count ?? 1;
        break;
      case "alert.rejected":
        if (typeof d.raw === "string" && d.raw.includes(`demo-${this.tag}-`)) this.rejected += 1;
        break;
      case "incident.created":
      case "incident.updated":
      case "incident.reopened":
        if (typeof d.alert_ref === "string") {
          this.incidentOf.set(d.alert_ref, String(d.incident_id));
          if (typeof d.triage_run_id === "string") this.triageRuns.set(d.triage_run_id, d.alert_ref);
        }
        break;
      case "incident.escalated":
        this.escalated.push({ incident_id: String(d.incident_id), ...(d.from ? { from: String(d.from) } : {}), ...(d.to ? { to: String(d.to) } : {}) });
        break;
      case "triage.completed":
        this.runsDone.set(String(d.run_id), "succeeded");
        break;
      case "graph.failed":
        this.runsDone.set(String(d.run_id), "failed");
        break;
    }
    this.wake?.();
  }

  progress(): DemoProgress {
    const ours = [...this.accepted];
    const incidents = new Set(ours.map((r) => this.incidentOf.get(r)).filter((i): i is string => i !== undefined));
    const runs = [...this.triageRuns].filter(([, ref]) => this.accepted.has(ref)).map(([run]) => run);
    return {
      accepted: this.accepted.size,
      deduped: this.deduped,
      rejected: this.rejected,
      onIncident: ours.filter((r) => this.incidentOf.has(r)).length,
      incidents,
      escalations: this.escalated.filter((x) => incidents.has(x.incident_id)),
      triageQueued: runs.length,
      triageDone: runs.filter((r) => this.runsDone.get(r) === "succeeded").length,
      triageFailed: runs.filter((r) => this.runsDone.get(r) === "failed").length,
    };
  }

  /** What is still missing, or null when the storm has been fully processed. */
  missing(p = this.progress()): string | null {
    const ingested = p.accepted + p.deduped + p.rejected;
    if (ingested < this.total) return `ingested ${ingested}/${this.total} (is an alerts-in worker running?)`;
    if (p.onIncident < p.accepted) return `on incidents ${p.onIncident}/${p.accepted} accepted alerts (is a triage worker running?)`;
    if (p.triageDone + p.triageFailed < p.triageQueued) return `triage runs ${p.triageDone + p.triageFailed}/${p.triageQueued} finished (is a graph-runs worker running?)`;
    return null;
  }

  /** Resolves once nothing is missing; calls `report` at most every `everyMs` while waiting. */
  async until(timeoutMs: number, report: (p: DemoProgress) => void, everyMs = 1000): Promise<DemoProgress> {
    const deadline = Date.now() + timeoutMs;
    let lastReport = 0;
    for (;;) {
      const p = this.progress();
      const gap = this.missing(p);
      if (!gap) return p;
      if (Date.now() - lastReport >= everyMs) {
        report(p);
        lastReport = Date.now();
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs / 1000} s: ${gap}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, everyMs));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
