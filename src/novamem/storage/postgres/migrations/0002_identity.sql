-- Identities: tenants, users, dashboard sessions, API tokens, projects and memberships, the active
-- project, quotas, the audit log, the change feed and deployment-wide counters (throttles, lockouts,
-- write quotas). Every row that holds identity or memory carries its tenant.

CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- the one tenant of `none`, `bearer` and `user` modes; in `tenant` mode its admins run the server
INSERT INTO tenants (id, name) VALUES ('default', 'default');

CREATE TABLE users (
    id                   text PRIMARY KEY,
    tenant_id            text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- sign-in is by email alone, so an address names one account on the whole server
    email                text NOT NULL,
    name                 text NOT NULL,
    role                 text NOT NULL DEFAULT 'user',
    password_hash        text NULL,
    must_change_password boolean NOT NULL DEFAULT false,
    banned               boolean NOT NULL DEFAULT false,
    ban_reason           text NULL,
    ban_expires          timestamptz NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_role_check CHECK (role IN ('admin', 'user')),
    CONSTRAINT users_id_check CHECK (id NOT LIKE 'org:%' AND id <> 'public')
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_tenant ON users (tenant_id, created_at);

-- dashboard sessions: the cookie carries the token, the table only its SHA-256
CREATE TABLE auth_sessions (
    id         text PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    tenant_id  text NOT NULL,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address text NULL,
    user_agent text NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE projects (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    owner_user_id text NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_tenant_name ON projects (tenant_id, name);

CREATE TABLE project_members (
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  text NOT NULL,
    role       text NOT NULL DEFAULT 'member',
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id),
    CONSTRAINT project_members_role_check CHECK (role IN ('owner', 'member'))
);
CREATE INDEX project_members_user ON project_members (user_id);

-- deleting a project deletes its entries, and with them their edges, vectors and source refs
ALTER TABLE memory_entries
    ADD CONSTRAINT memory_entries_project_fk FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE;

-- API tokens `nm_…`: only the SHA-256 of the plaintext is kept
CREATE TABLE user_tokens (
    token_hash   text PRIMARY KEY,
    tenant_id    text NOT NULL,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        text NOT NULL DEFAULT '',
    scope        text NOT NULL DEFAULT 'full',
    project_id   text NULL REFERENCES projects (id) ON DELETE CASCADE,
    expires_at   timestamptz NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NULL,
    revoked_at   timestamptz NULL,
    CONSTRAINT user_tokens_scope_check CHECK (scope IN ('full', 'read_only'))
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, created_at);

-- the server-side active project; may point at a project the user has since lost (cleared on read)
CREATE TABLE user_active_project (
    user_id    text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  text NOT NULL,
    project_id text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- per-user overrides of the server's default quotas (NULL = use the default)
CREATE TABLE user_quotas (
    user_id           text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id         text NOT NULL,
    max_entries       integer NULL,
    writes_per_minute integer NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- append-only: no API changes or deletes audit rows, and the database refuses it too
CREATE TABLE admin_audit_log (
    id            bigserial PRIMARY KEY,
    tenant_id     text NOT NULL,
    ts            timestamptz NOT NULL DEFAULT now(),
    actor_user_id text NULL,
    actor_label   text NOT NULL,
    action        text NOT NULL,
    target        text NULL,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_ip    text NULL
);
CREATE INDEX admin_audit_log_tenant_ts ON admin_audit_log (tenant_id, ts DESC, id DESC);

CREATE FUNCTION novamem_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit_log is append-only';
END;
$$;
CREATE TRIGGER admin_audit_log_append_only BEFORE UPDATE OR DELETE ON admin_audit_log
    FOR EACH ROW EXECUTE FUNCTION novamem_audit_log_append_only();

-- change feed: deliberately no foreign key to memory_entries, so `deleted` events outlive the entry
CREATE TABLE memory_changes (
    seq        bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    project_id text NULL,
    entry_id   text NOT NULL,
    change     text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memory_changes_change_check
        CHECK (change IN ('created', 'updated', 'superseded', 'deleted', 'expired'))
);
CREATE INDEX memory_changes_user ON memory_changes (tenant_id, user_id, seq) WHERE project_id IS NULL;
CREATE INDEX memory_changes_project ON memory_changes (tenant_id, project_id, seq) WHERE project_id IS NOT NULL;
CREATE INDEX memory_changes_at ON memory_changes (at);

-- fixed-window counters shared by every replica: sign-in throttles, lockouts, write quotas
CREATE TABLE rate_counters (
    key      text PRIMARY KEY,
    count    integer NOT NULL,
    reset_at timestamptz NOT NULL
);
CREATE INDEX rate_counters_reset ON rate_counters (reset_at);
