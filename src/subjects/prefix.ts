/** A subject token from free text: no dots, wildcards or whitespace, never empty. */
export function token(value: string): string {
  const t = value.replace(/[\s.*>]+/g, "_").slice(0, 64);
  return t.length ? t : "_";
}

/** The subject prefix (`ops` unless OPS_SUBJECT_PREFIX says otherwise) and stream-name prefix. */
export interface Naming {
  prefix: string;
  /** Stream names are `OPS_ALERTS` etc. for prefix `ops`; `ACME_ALERTS` for prefix `acme`. */
  streamPrefix: string;
}

export function naming(prefix = "ops"): Naming {
  return { prefix, streamPrefix: prefix.toUpperCase().replace(/[^A-Z0-9]/g, "_") };
}
