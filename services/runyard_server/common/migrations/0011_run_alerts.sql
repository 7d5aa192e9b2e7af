-- 0011: alerts a run raised (`runyard.alert(title, text, level)`), listed on the run's page.
-- Written by the query service (POST /api/v1/runs/{e}/{p}/{r}/alerts), read by it and the UI.
CREATE TABLE run_alerts (
    id         bigserial PRIMARY KEY,
    run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 256),
    text       text NOT NULL DEFAULT '' CHECK (length(text) <= 10000),
    level      text NOT NULL CHECK (level IN ('INFO', 'WARN', 'ERROR')),
    step       bigint,
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_alerts_run ON run_alerts (run_id, id);
