-- A batch row of receipts holds a batch message's sequences and results (about 14 KB for 256
-- alerts), so it is always compressed and stored out of line (TOAST). With pglz, the default,
-- compressing it cost more Postgres CPU than anything else in recording receipts: lz4 cut the
-- whole ingest's Postgres CPU by about 7% (3.2 -> 3.0 s per 100,000 Alertmanager alerts) for
-- about a fifth more space (2.1 MB of arrays per 100,000 alerts instead of 1.8; uncompressed 5.0).
-- A server built without lz4 keeps pglz. Applies to rows written from now on; idempotent.
DO $$
BEGIN
  ALTER TABLE alert_receipt_batches ALTER COLUMN seqs SET COMPRESSION lz4, ALTER COLUMN alert_refs SET COMPRESSION lz4,
    ALTER COLUMN deduped SET COMPRESSION lz4, ALTER COLUMN occurrences SET COMPRESSION lz4,
    ALTER COLUMN created SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'lz4 is not supported by this server: receipt batches stay compressed with pglz';
END $$;
