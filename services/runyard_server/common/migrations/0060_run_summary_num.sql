-- 0060: a typed, indexed copy of every run's numeric top-level summary values, for sorting runs by a
-- summary metric without evaluating `summary -> key` for every run of the project (docs/scaling.md).
--
-- One row per (run, top-level summary key whose value is a JSON number). `value` is `numeric`, exactly
-- the value the runs list sorts by (`(summary -> key)::numeric`), so a sort through the index and a sort
-- of the JSON give the same order, numbers beyond a double's range included. A trigger on `runs` keeps
-- it: every writer of `summary` (ingest, the public API's edits, the W&B-compatible routes, imports)
-- updates it in the same transaction, and only the keys whose value changed are written.

CREATE TABLE run_summary_num (
    run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    project_id bigint NOT NULL,
    key        text NOT NULL,
    value      numeric NOT NULL,
    PRIMARY KEY (run_id, key)
);
-- the sort: the project's runs by one key's value, ties by run id (both directions: backward scan)
CREATE INDEX run_summary_num_sort ON run_summary_num (project_id, key, value, run_id);

CREATE FUNCTION run_summary_num_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.project_id <> OLD.project_id THEN
            UPDATE run_summary_num SET project_id = NEW.project_id WHERE run_id = NEW.id;
        END IF;
        IF NEW.summary IS NOT DISTINCT FROM OLD.summary THEN
            RETURN NULL;
        END IF;
        -- keys gone, or no longer numbers
        DELETE FROM run_summary_num s
         WHERE s.run_id = NEW.id
           AND (jsonb_typeof(NEW.summary) <> 'object' OR jsonb_typeof(NEW.summary -> s.key) IS DISTINCT FROM 'number');
    END IF;
    IF jsonb_typeof(NEW.summary) = 'object' THEN
        INSERT INTO run_summary_num (run_id, project_id, key, value)
        SELECT NEW.id, NEW.project_id, e.key, (e.value)::numeric
          FROM jsonb_each(NEW.summary) e
         WHERE jsonb_typeof(e.value) = 'number'
           AND (TG_OP = 'INSERT' OR jsonb_typeof(OLD.summary) <> 'object'
                OR (OLD.summary -> e.key) IS DISTINCT FROM e.value)
        ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, project_id = EXCLUDED.project_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_summary_num_insert AFTER INSERT ON runs
    FOR EACH ROW WHEN (NEW.summary <> '{}'::jsonb) EXECUTE FUNCTION run_summary_num_sync();
CREATE TRIGGER runs_summary_num_update AFTER UPDATE OF summary, project_id ON runs
    FOR EACH ROW WHEN (NEW.summary IS DISTINCT FROM OLD.summary OR NEW.project_id <> OLD.project_id)
    EXECUTE FUNCTION run_summary_num_sync();

-- the runs that exist already
INSERT INTO run_summary_num (run_id, project_id, key, value)
SELECT r.id, r.project_id, e.key, (e.value)::numeric
  FROM runs r, jsonb_each(r.summary) e
 WHERE jsonb_typeof(r.summary) = 'object' AND jsonb_typeof(e.value) = 'number';
