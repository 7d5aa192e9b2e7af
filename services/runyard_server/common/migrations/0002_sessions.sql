-- 0002: browser login sessions (auth service writes, the shared verifier reads).
-- The cookie holds a random token; only its SHA-256 is stored, like API keys. The CSRF token of the
-- session (double-submit: cookie `runyard_csrf` echoed in `X-CSRF-Token`) is stored hashed too, so a
-- cookie planted by another site cannot pass the check.

CREATE TABLE sessions (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,
    csrf_hash    bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
