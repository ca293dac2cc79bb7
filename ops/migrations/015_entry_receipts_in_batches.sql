-- Upgrade path: entry receipts of batch messages (`<stream>@<created ms>:<seq>:<index>`) that
-- earlier versions wrote one alert_receipts row each move into batch rows, one per message
-- (stream = `<stream>@<created ms>:<seq>`, sequences = the entry indexes), as ingest writes them
-- now. Ingest then looks entry keys up in alert_receipt_batches alone: each batch used to send
-- every entry key again to probe alert_receipts for one of these, ~40 bytes and one index probe
-- per alert. Idempotent: a second run finds nothing left to move.
WITH moved AS (
  DELETE FROM alert_receipts
  WHERE receipt_key ~ '^[A-Za-z0-9_-]+@[0-9]+:[1-9][0-9]{0,14}:(0|[1-9][0-9]{0,14})$'
  RETURNING receipt_key, alert_ref, deduped, occurrences, created, at
), parsed AS (
  SELECT substring(receipt_key FROM '^(.*):[0-9]+$') AS stream,
    substring(receipt_key FROM ':([0-9]+)$')::bigint AS seq, alert_ref, deduped, occurrences, created, at
  FROM moved
)
INSERT INTO alert_receipt_batches (stream, lo, hi, seqs, alert_refs, deduped, occurrences, created, at)
SELECT stream, min(seq), max(seq), array_agg(seq ORDER BY seq), array_agg(alert_ref ORDER BY seq),
  array_agg(deduped ORDER BY seq), array_agg(occurrences ORDER BY seq), array_agg(created ORDER BY seq), max(at)
FROM parsed
GROUP BY stream;
