/**
 * SQL of the Postgres alert store (rows ↔ records: postgres-rows.ts). Every statement works on a
 * whole batch (unnest / jsonb_to_recordset), never one row per round trip.
 */

const ALERT_COLUMN_TYPES = [
  ["alert_ref", "text"], ["fingerprint", "text"], ["service", "text"], ["title", "text"], ["kind", "text"],
  ["severity", "text"], ["env", "text"], ["source", "text"], ["message", "text"], ["labels", "jsonb"],
  ["meta", "jsonb"], ["starts_at", "timestamptz"], ["created_at", "timestamptz"], ["last_seen_at", "timestamptz"],
  ["dedupe_until", "timestamptz"], ["occurrences", "integer"], ["status", "text"], ["owner", "text"],
  ["lock_until", "timestamptz"], ["attempts", "integer"], ["last_error", "text"], ["retry_at", "timestamptz"],
  ["dead", "boolean"], ["ack_note", "text"], ["acked_at", "timestamptz"], ["delivery", "jsonb"],
  ["ends_at", "timestamptz"], ["resolved_at", "timestamptz"], ["suppression", "jsonb"],
] as const;

const COLUMNS = ALERT_COLUMN_TYPES.map(([c]) => c).join(", ");
const RECORDSET = `jsonb_to_recordset($1::jsonb) AS x(${ALERT_COLUMN_TYPES.map(([c, t]) => `${c} ${t}`).join(", ")})`;

/** The status a reader sees (mirrors `effectiveStatus`); `$now` is the parameter holding now. */
export function effectiveStatusSql(now: string): string {
  return `CASE WHEN status = 'processing' AND lock_until <= ${now} THEN 'new'
    WHEN status = 'failed' AND NOT dead AND retry_at <= ${now} THEN 'new' ELSE status END`;
}

/**
 * Planner settings for the ingest transaction: every statement probes a few hundred keys, which
 * nested loops over index scans answer fastest whatever the table statistics say; LOCK_HOLDERS
 * locks alerts in fingerprint order (two batches never deadlock).
 */
export const INGEST_SETTINGS =
  "SET LOCAL random_page_cost = 1.1; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

/**
 * A timestamptz as whole epoch milliseconds (float8, truncated as a JS Date truncates): a JS
 * number, no date parsing per row. From date_part's float8 seconds, rounded to the stored
 * microsecond (exact: the float error is far below one), not from extract's numeric, whose
 * arithmetic cost three times as much (the same values on a million random instants).
 */
const epochMs = (col: string) => `trunc(round(date_part('epoch', ${col}) * 1e6) / 1000)`;

/** A pointer row that names an open alert (not one known to be gone) keeps it. */
const KEEP_OPEN = `(alert_fingerprints.alert_ref IS NOT NULL AND alert_fingerprints.dedupe_until > $4::timestamptz
    AND alert_fingerprints.alert_ref <> ALL($5::text[]))`;

/** A stored batch `b` holding one of the sequences of `q` (stream, lo, hi, seqs); the span narrows. */
const OVERLAPS = (q: string) => `b.stream = ${q}.stream AND b.hi >= ${q}.lo AND b.lo <= ${q}.hi AND b.seqs && ${q}.seqs`;

/** $1 streams, $2 seqs (parallel): the stored result of each, oldest batch first. */
export const SELECT_STREAM_RECEIPTS = `
  WITH q AS (
    SELECT stream, min(seq) AS lo, max(seq) AS hi, array_agg(seq) AS seqs
    FROM unnest($1::text[], $2::int8[]) AS u(stream, seq) GROUP BY stream
  )
  SELECT b.stream || ':' || s.seq AS receipt_key, b.alert_refs[s.i] AS alert_ref, b.deduped[s.i] AS deduped,
    b.occurrences[s.i] AS occurrences, b.created[s.i] AS created, b.at
  FROM q JOIN alert_receipt_batches b ON ${OVERLAPS("q")}
  CROSS JOIN LATERAL unnest(b.seqs) WITH ORDINALITY AS s(seq, i)
  WHERE s.seq = ANY(q.seqs)
  ORDER BY b.id, s.i`;

/** Every stream receipt, one row per sequence, for export. */
export const EXPORT_STREAM_RECEIPTS = `
  SELECT b.stream || ':' || s.seq AS receipt_key, b.alert_refs[s.i] AS alert_ref, b.deduped[s.i] AS deduped,
    b.occurrences[s.i] AS occurrences, b.created[s.i] AS created, b.at
  FROM alert_receipt_batches b CROSS JOIN LATERAL unnest(b.seqs) WITH ORDINALITY AS s(seq, i)
  ORDER BY b.at, b.id, s.i`;

/** $1..$8 one batch of stream receipts (stream, lo, hi, seqs, results), $9 their time. */
export const INSERT_STREAM_RECEIPTS = `
  INSERT INTO alert_receipt_batches (stream, lo, hi, seqs, alert_refs, deduped, occurrences, created, at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

export const SELECT_RECEIPTS = `
  SELECT receipt_key, alert_ref, deduped, occurrences, created, at
  FROM alert_receipts WHERE receipt_key = ANY($1::text[])`;

/**
 * $1 fingerprints (sorted): the alert each fingerprint's pointer names, locked (FOR UPDATE) in
 * fingerprint order, with what the plan needs: window end, count (`base`; NULL: the alert is
 * gone, deleted behind the store's back) and lifecycle times (a resolved alert's last sighting
 * too: who resolved it), all times as epoch ms (no timestamp
 * text to format here and parse in JavaScript, three per alert). The plan decides what
 * counts (an open window), refreshes or resolves; WRITE_INGEST writes it. Driven by $1 through
 * the primary keys (nested loops). The pointers are read once (`ptr`) for both the locked alerts
 * and the gone ones (NOT IN over `locked`, a hashed subplan), not probed a second time.
 */
export const LOCK_HOLDERS = `
  WITH ptr AS MATERIALIZED (
    SELECT u.fingerprint, f.alert_ref, f.dedupe_until
    FROM unnest($1::text[]) AS u(fingerprint) JOIN alert_fingerprints f ON f.fingerprint = u.fingerprint
    WHERE f.alert_ref IS NOT NULL
  ), locked AS (
    SELECT p.fingerprint, p.alert_ref, p.dedupe_until, a.occurrences, a.starts_at, a.ends_at, a.resolved_at, a.last_seen_at
    FROM ptr p JOIN alerts a ON a.alert_ref = p.alert_ref
    ORDER BY p.fingerprint COLLATE "C"
    FOR UPDATE OF a
  )
  SELECT fingerprint, alert_ref, ${epochMs("dedupe_until")} AS until_ms, occurrences AS base,
    ${epochMs("starts_at")} AS starts_ms, ${epochMs("ends_at")} AS ends_ms, ${epochMs("resolved_at")} AS resolved_ms,
    CASE WHEN resolved_at IS NOT NULL THEN ${epochMs("last_seen_at")} END AS seen_ms FROM locked
  UNION ALL
  SELECT p.fingerprint, p.alert_ref, ${epochMs("p.dedupe_until")}, NULL, NULL, NULL, NULL, NULL
  FROM ptr p WHERE p.alert_ref NOT IN (SELECT alert_ref FROM locked)`;

/**
 * $1 fingerprints that need a new alert (sorted), $2/$3 the alert ref and window end chosen for
 * each, $4 now, $5 refs known to be gone: points each fingerprint at its new alert, locking the
 * pointer rows in order, unless the row (latest committed version) already names an open alert,
 * which another batch opened since we looked. Returns the ref each pointer names now.
 */
export const CLAIM_POINTERS = `
  INSERT INTO alert_fingerprints (fingerprint, alert_ref, dedupe_until)
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ORDER BY 1
  ON CONFLICT (fingerprint) DO UPDATE SET
    alert_ref = CASE WHEN ${KEEP_OPEN} THEN alert_fingerprints.alert_ref ELSE EXCLUDED.alert_ref END,
    dedupe_until = CASE WHEN ${KEEP_OPEN} THEN alert_fingerprints.dedupe_until ELSE EXCLUDED.dedupe_until END
  RETURNING fingerprint, alert_ref`;

/**
 * The rest of an ingest in one statement: $1 new alerts (jsonb), $2 now, $3..$7 keyed receipts
 * (per key), $8..$12 one row of stream receipts per stream (stream, lo, hi, and the slice
 * [first, last] of $13..$17 that holds its sequences and results: a batch message's entries are
 * one row per message), $18..$24 the plan's bumps (ref, count, ends_at, starts_at, resolved_at,
 * clear resolved_at, reset work).
 * `keyed` = keyed receipts recorded: fewer than sent means another batch recorded a key
 * meanwhile. `clash`: one of the stream receipts is recorded already (by another batch). The earlier statements of the transaction locked every fingerprint
 * counted here, and two batches holding the same message share its fingerprint, so a batch that
 * counted it first has committed before this statement's snapshot: the check cannot miss it.
 */
export const WRITE_INGEST = `
  WITH ins AS (
    INSERT INTO alerts (${COLUMNS}) SELECT ${COLUMNS} FROM ${RECORDSET} RETURNING 1
  ), bump AS (
    UPDATE alerts a SET occurrences = GREATEST(a.occurrences, u.occ), last_seen_at = $2::timestamptz,
      ends_at = COALESCE(u.ends_at, a.ends_at), starts_at = COALESCE(u.starts_at, a.starts_at),
      resolved_at = CASE WHEN u.clear THEN NULL ELSE COALESCE(u.resolved_at, a.resolved_at) END,
      status = CASE WHEN u.reset THEN 'new' ELSE a.status END, attempts = CASE WHEN u.reset THEN 0 ELSE a.attempts END,
      dead = a.dead AND NOT u.reset, owner = CASE WHEN u.reset THEN NULL ELSE a.owner END,
      lock_until = CASE WHEN u.reset THEN NULL ELSE a.lock_until END, last_error = CASE WHEN u.reset THEN NULL ELSE a.last_error END,
      retry_at = CASE WHEN u.reset THEN NULL ELSE a.retry_at END, ack_note = CASE WHEN u.reset THEN NULL ELSE a.ack_note END,
      acked_at = CASE WHEN u.reset THEN NULL ELSE a.acked_at END, delivery = CASE WHEN u.reset THEN NULL ELSE a.delivery END
    FROM unnest($18::text[], $19::int[], $20::timestamptz[], $21::timestamptz[], $22::timestamptz[], $23::bool[], $24::bool[])
      AS u(alert_ref, occ, ends_at, starts_at, resolved_at, clear, reset)
    WHERE a.alert_ref = u.alert_ref
    RETURNING 1
  ), keyed AS (
    INSERT INTO alert_receipts (receipt_key, alert_ref, deduped, occurrences, created, at)
    SELECT *, $2::timestamptz FROM unnest($3::text[], $4::text[], $5::bool[], $6::int[], $7::bool[])
    ORDER BY 1
    ON CONFLICT (receipt_key) DO NOTHING
    RETURNING 1
  ), g AS (
    SELECT s.stream, s.lo, s.hi, ($13::int8[])[s.first:s.last] AS seqs, ($14::text[])[s.first:s.last] AS alert_refs,
      ($15::bool[])[s.first:s.last] AS deduped, ($16::int[])[s.first:s.last] AS occurrences, ($17::bool[])[s.first:s.last] AS created
    FROM unnest($8::text[], $9::int8[], $10::int8[], $11::int[], $12::int[]) AS s(stream, lo, hi, first, last)
  ), batch AS (
    INSERT INTO alert_receipt_batches (stream, lo, hi, seqs, alert_refs, deduped, occurrences, created, at)
    SELECT stream, lo, hi, seqs, alert_refs, deduped, occurrences, created, $2::timestamptz FROM g
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM keyed)::int AS keyed,
    EXISTS (SELECT 1 FROM g JOIN alert_receipt_batches b ON ${OVERLAPS("g")}) AS clash`;

/**
 * $1 alerts (jsonb): insert, or replace a stored alert that is older (last_seen_at, occurrences).
 * Rows in fingerprint order (byte order, like ingest's sorted arrays), the order ingest locks them.
 */
export const UPSERT_ALERTS = `
  INSERT INTO alerts (${COLUMNS}) SELECT ${COLUMNS} FROM ${RECORDSET} ORDER BY fingerprint COLLATE "C", alert_ref
  ON CONFLICT (alert_ref) DO UPDATE SET (${COLUMNS}) = (${ALERT_COLUMN_TYPES.map(([c]) => `EXCLUDED.${c}`).join(", ")})
  WHERE (EXCLUDED.last_seen_at, EXCLUDED.occurrences) > (alerts.last_seen_at, alerts.occurrences)`;

/** $1..$6 receipts: keep the first stored result of a key. */
export const INSERT_RECEIPTS = `
  INSERT INTO alert_receipts (receipt_key, alert_ref, deduped, occurrences, created, at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::int[], $5::bool[], $6::timestamptz[])
  ORDER BY 1
  ON CONFLICT (receipt_key) DO NOTHING`;

/** $1..$3 fingerprint, alert_ref, dedupe_until: point at the alert whose window ends later. */
export const UPSERT_POINTERS = `
  INSERT INTO alert_fingerprints (fingerprint, alert_ref, dedupe_until)
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ORDER BY 1
  ON CONFLICT (fingerprint) DO UPDATE SET alert_ref = EXCLUDED.alert_ref, dedupe_until = EXCLUDED.dedupe_until
  WHERE alert_fingerprints.alert_ref IS NULL OR EXCLUDED.dedupe_until > alert_fingerprints.dedupe_until`;

/**
 * `alertState` = firing, spelled so that a query asking for firing alerts names `resolved_at IS
 * NULL` on its own: the planner can then read the unresolved rows' index (alerts_firing_group_idx).
 */
const FIRING = "(resolved_at IS NULL AND (ends_at IS NULL OR ends_at > $2::timestamptz))";

/** Rows last seen at or after $n: the indexed hour narrows, last_seen_at decides. */
const seenSince = (n: string) =>
  `last_seen_hour >= date_trunc('hour', ${n}::timestamptz AT TIME ZONE 'UTC') AND last_seen_at >= ${n}::timestamptz`;

/**
 * $1 since, $2 now, $3 env, $4 service, $5 source, $6 fingerprint, $7 statuses, $8 limit,
 * $9 state (firing|resolved, as alertState), $10 fingerprints, $11 severities, $12 kinds.
 */
export const LIST = `
  SELECT * FROM alerts
  WHERE ${seenSince("$1")}
    AND ($3::text IS NULL OR env = $3) AND ($4::text IS NULL OR service = $4)
    AND ($5::text IS NULL OR source = $5) AND ($6::text IS NULL OR fingerprint = $6)
    AND ($7::text[] IS NULL OR ${effectiveStatusSql("$2::timestamptz")} = ANY($7::text[]))
    AND ($10::text[] IS NULL OR fingerprint = ANY($10::text[]))
    AND ($11::text[] IS NULL OR severity = ANY($11::text[])) AND ($12::text[] IS NULL OR kind = ANY($12::text[]))
    AND ($9::text IS NULL OR ($9::text = 'firing' AND ${FIRING}) OR ($9::text = 'resolved' AND NOT ${FIRING}))
  ORDER BY last_seen_at DESC, alert_ref COLLATE "C" DESC
  LIMIT $8`;

/**
 * $1 now, $2 limit: unresolved alerts whose ends_at passed, resolved at their ends_at. SKIP
 * LOCKED and the guard in the UPDATE: each is resolved by exactly one sweeping process.
 */
export const RESOLVE_EXPIRED = `
  WITH due AS (
    SELECT alert_ref FROM alerts
    WHERE resolved_at IS NULL AND ends_at IS NOT NULL AND ends_at <= $1::timestamptz
    ORDER BY ends_at LIMIT $2
    FOR UPDATE SKIP LOCKED
  )
  UPDATE alerts a SET resolved_at = a.ends_at FROM due
  WHERE a.alert_ref = due.alert_ref AND a.resolved_at IS NULL
  RETURNING a.*`;

/** $1 alert_ref, $2 now: resolves it now unless it is resolved already. */
export const RESOLVE_ONE = `
  UPDATE alerts SET resolved_at = $2::timestamptz, ends_at = LEAST(COALESCE(ends_at, $2::timestamptz), $2::timestamptz)
  WHERE alert_ref = $1 AND resolved_at IS NULL
  RETURNING *`;

/** $1 cutoff. */
export const PURGE_ALERTS = `
  DELETE FROM alerts
  WHERE last_seen_hour <= date_trunc('hour', $1::timestamptz AT TIME ZONE 'UTC') AND last_seen_at < $1::timestamptz
  RETURNING alert_ref`;

/** $1 since, $2 now. */
export const COUNT_BY_STATUS = `
  SELECT ${effectiveStatusSql("$2::timestamptz")} AS status, count(*)::int AS n
  FROM alerts WHERE ${seenSince("$1")} GROUP BY 1`;

/** $1 now, $2 minimum delivery count, $3 limit (alerts_claimed_lock_idx: claims only). */
export const LAPSED_CLAIMS = `
  SELECT * FROM alerts
  WHERE status = 'processing' AND lock_until <= $1::timestamptz AND NOT dead
    AND (delivery->>'delivery_count')::int >= $2::int
  ORDER BY lock_until, alert_ref COLLATE "C"
  LIMIT $3`;

/** $1 since, $2 how many. Named after the fingerprint's newest alert. */
export const TOP_SIGNATURES = `
  SELECT fingerprint,
    (array_agg(service ORDER BY last_seen_at DESC, alert_ref COLLATE "C" DESC))[1] AS service,
    (array_agg(kind ORDER BY last_seen_at DESC, alert_ref COLLATE "C" DESC))[1] AS kind,
    (array_agg(title ORDER BY last_seen_at DESC, alert_ref COLLATE "C" DESC))[1] AS title,
    count(*)::int AS alerts, sum(occurrences)::int8 AS occurrences
  FROM alerts WHERE ${seenSince("$1")}
  GROUP BY fingerprint
  ORDER BY sum(occurrences) DESC, fingerprint COLLATE "C"
  LIMIT $2`;
