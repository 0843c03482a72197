-- The hub's schema, portable between SQLite and PostgreSQL: TEXT, BIGINT
-- and INTEGER columns only, times as Unix microseconds (UTC), ids generated
-- by the hub (time-ordered, so ORDER BY id is creation order), lists of
-- strings as JSON text. '' (not NULL) means "no tenant/project" so that
-- UNIQUE constraints hold across scopes.

CREATE TABLE tenants (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL
);

CREATE TABLE projects (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX projects_tenant_id ON projects (tenant_id, id);

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    email            TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    disabled         INTEGER NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL
);

CREATE TABLE teams (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX teams_tenant_id ON teams (tenant_id, id);

CREATE TABLE team_members (
    team_id    TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_id ON team_members (user_id);

CREATE TABLE roles (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL,
    builtin          INTEGER NOT NULL,
    permissions      TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL
);

CREATE TABLE role_bindings (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    role_id          TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    subject_kind     TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL,
    UNIQUE (tenant_id, project_id, name)
);
CREATE INDEX role_bindings_scope ON role_bindings (tenant_id, project_id, id);
CREATE INDEX role_bindings_subject ON role_bindings (subject_kind, subject_id);

CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    prefix           TEXT NOT NULL UNIQUE,
    key_hash         TEXT NOT NULL,
    expires_at       BIGINT NOT NULL,
    revoked_at       BIGINT NOT NULL,
    last_used_at     BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resource_version BIGINT NOT NULL,
    UNIQUE (user_id, name)
);
CREATE INDEX api_keys_user_id ON api_keys (user_id, id);

-- Append-only: the store has no UPDATE or DELETE for it.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    time        BIGINT NOT NULL,
    principal   TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json  TEXT NOT NULL
);
CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id);
CREATE INDEX audit_events_principal ON audit_events (principal, id);
CREATE INDEX audit_events_action ON audit_events (action, id);

CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
