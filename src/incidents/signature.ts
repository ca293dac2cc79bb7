/**
 * The incident signature: alerts with equal values of the configured fields share an incident.
 * Hashed so it is a short, stable key whatever the fields hold (titles can be long).
 */
import { createHash } from "node:crypto";
import type { AlertRoutingPolicy } from "../config/policies.js";
import type { AlertRecord } from "../subjects/index.js";

export type SignatureConfig = AlertRoutingPolicy["incidents"];

export function incidentSignature(alert: AlertRecord, cfg: SignatureConfig): string {
  const parts = cfg.signature_fields.map((f) => `${f}=${alert[f]}`);
  for (const label of cfg.signature_labels) parts.push(`label.${label}=${alert.labels[label] ?? ""}`);
  return `sig_${createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 20)}`;
}
