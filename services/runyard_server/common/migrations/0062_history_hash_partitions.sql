-- 0062: history hash-partitioned by run (docs/scaling.md, "History partitioning").
--
-- `history_chunks` and `history_json` become `PARTITION BY HASH (run_id)` with 16 partitions each, so a
-- run's history lives in exactly one partition: every read and write names one run (`run_id = $1`) and
-- touches one partition (plan-time pruning; `run_id = ANY($1)` prunes at execution), autovacuum and
-- VACUUM FULL work partition by partition, and the layout is the one Citus distributes (each partition
-- colocated by run_id) or that a per-tenant split moves whole. 16: each partition holds about 1/16 of
-- the history (35 MB per partition at the 55 M points measured here, a few GB at 10 G points), while
-- a query that spans many runs (the batched history of 1,000 runs) still touches at most 16 small
-- index trees; more partitions only add planning time here. Changing the count later is a copy like
-- this one.
--
-- Existing rows are copied (INSERT ... SELECT, in this migration's transaction): about 10 s per GB
-- of history on this machine, during which the services wait for the migration. Column types,
-- defaults (the same `id` sequence), storage settings, keys and the foreign key to `runs` stay as they
-- were, so no query changes.

-- numeric chunks
ALTER TABLE history_chunks RENAME TO history_chunks_unpartitioned;
ALTER TABLE history_chunks_unpartitioned RENAME CONSTRAINT history_chunks_pkey TO history_chunks_unpartitioned_pkey;
CREATE TABLE history_chunks (
    id       bigint NOT NULL DEFAULT nextval('history_chunks_id_seq'),
    run_id   bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key_id   integer NOT NULL,
    min_step bigint NOT NULL,
    max_step bigint NOT NULL,
    n        integer NOT NULL,
    steps    bytea NOT NULL,
    vals     bytea NOT NULL,
    PRIMARY KEY (run_id, key_id, id)
) PARTITION BY HASH (run_id);
ALTER TABLE history_chunks ALTER COLUMN steps SET STORAGE EXTENDED;
CREATE TABLE history_chunks_p00 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE history_chunks_p01 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE history_chunks_p02 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE history_chunks_p03 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE history_chunks_p04 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE history_chunks_p05 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE history_chunks_p06 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE history_chunks_p07 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE history_chunks_p08 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE history_chunks_p09 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE history_chunks_p10 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE history_chunks_p11 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE history_chunks_p12 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE history_chunks_p13 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE history_chunks_p14 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE history_chunks_p15 PARTITION OF history_chunks FOR VALUES WITH (MODULUS 16, REMAINDER 15);
ALTER SEQUENCE history_chunks_id_seq OWNED BY history_chunks.id;
INSERT INTO history_chunks (id, run_id, key_id, min_step, max_step, n, steps, vals)
SELECT id, run_id, key_id, min_step, max_step, n, steps, vals FROM history_chunks_unpartitioned;
DROP TABLE history_chunks_unpartitioned;

-- non-numeric points
ALTER TABLE history_json RENAME TO history_json_unpartitioned;
ALTER TABLE history_json_unpartitioned RENAME CONSTRAINT history_json_pkey TO history_json_unpartitioned_pkey;
CREATE TABLE history_json (
    run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key_id integer NOT NULL,
    step   bigint NOT NULL,
    value  jsonb NOT NULL,
    PRIMARY KEY (run_id, key_id, step)
) PARTITION BY HASH (run_id);
CREATE TABLE history_json_p00 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE history_json_p01 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE history_json_p02 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE history_json_p03 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE history_json_p04 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE history_json_p05 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE history_json_p06 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE history_json_p07 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE history_json_p08 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE history_json_p09 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE history_json_p10 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE history_json_p11 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE history_json_p12 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE history_json_p13 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE history_json_p14 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE history_json_p15 PARTITION OF history_json FOR VALUES WITH (MODULUS 16, REMAINDER 15);
INSERT INTO history_json (run_id, key_id, step, value)
SELECT run_id, key_id, step, value FROM history_json_unpartitioned;
DROP TABLE history_json_unpartitioned;

ANALYZE history_chunks;
ANALYZE history_json;
