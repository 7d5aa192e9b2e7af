-- 0004: teams with roles, invites, service accounts, instance settings and the audit log
-- (the auth service writes every table here; the shared verifier reads team_members).

-- A service account is a user without a password that belongs to exactly one team (`service_team_id`);
-- it signs in only with its API keys. `password_changed_at` ends older sessions on a password change.
ALTER TABLE users ADD COLUMN is_service boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN service_team_id bigint REFERENCES entities (id) ON DELETE CASCADE;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_service_team CHECK (is_service = (service_team_id IS NOT NULL));
-- OIDC sign-in maps the identity provider's email to a user: one user per address.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email)) WHERE email IS NOT NULL;

-- Members of a team entity: admin (manage members and settings), member (write runs), viewer (read).
CREATE TABLE team_members (
    team_id    bigint NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- Invite links: a random token (only its SHA-256 stored), single use, with an expiry. An invite may
-- carry a team and role that the new user joins on sign-up.
CREATE TABLE invites (
    id         bigserial PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    team_id    bigint REFERENCES entities (id) ON DELETE CASCADE,
    role       text CHECK (role IN ('admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    used_by    bigint REFERENCES users (id) ON DELETE SET NULL
);

-- Instance-wide settings an admin changes at run time (e.g. open sign-up); absent keys fall back to
-- the RUNYARD_* defaults.
CREATE TABLE instance_settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint REFERENCES users (id) ON DELETE SET NULL
);

-- Security events: logins, key changes, role changes, password changes, settings. Append only.
-- Names are copied (not only ids) so that the log still reads after a user or team is deleted.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    event    text NOT NULL,
    actor_id bigint,
    actor    text NOT NULL DEFAULT '',
    target   text NOT NULL DEFAULT '',
    address  text NOT NULL DEFAULT '',
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_event ON audit_log (event, at DESC);
