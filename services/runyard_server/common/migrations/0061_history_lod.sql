-- 0061: levels of detail of long numeric history series (common/history_lod.py, docs/scaling.md).
-- Kept by compaction (ingest/writer.py `_refresh_lod`); read by the chart paths (query/lod.py) when the
-- window is wide enough. Derived data: deleting every row only makes charts of long runs read exactly.

-- One row per series that has levels: how far they reach.
CREATE TABLE history_lod_state (
    run_id   bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key_id   integer NOT NULL,
    chunk_id bigint NOT NULL,   -- every chunk of the series with id <= chunk_id is in the levels
    min_step bigint NOT NULL,   -- first and last step covered
    max_step bigint NOT NULL,
    points   bigint NOT NULL,   -- points covered (repeated steps counted once)
    PRIMARY KEY (run_id, key_id)
);

-- A segment of up to 256 buckets (history_lod.SEGMENT) of one level: `data` holds them as little-endian records
-- (bucket number int64, last step int64, its value float64, min float64, max float64).
CREATE TABLE history_lod (
    run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key_id integer NOT NULL,
    level  smallint NOT NULL,
    seg    bigint NOT NULL,
    n      integer NOT NULL,
    data   bytea NOT NULL,
    PRIMARY KEY (run_id, key_id, level, seg)
);
-- floats hardly compress: store out of line without trying
ALTER TABLE history_lod ALTER COLUMN data SET STORAGE EXTERNAL;
