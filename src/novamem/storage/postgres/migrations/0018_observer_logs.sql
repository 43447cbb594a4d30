-- The observer's logs (NOVAMEM_OBSERVER_*): one per user and project (or outside any project), a short list
-- of dated bullets served by GET /v1/context-prefix. They are not memory entries, so they never turn up in
-- search results or count against a quota. `observed_through` is the newest memory id the log has seen;
-- `revision` moves on with every save, so two passes over one log never both land.
CREATE TABLE observer_logs (
    tenant_id        text NOT NULL,
    user_id          text NOT NULL,
    project_id       text NULL REFERENCES projects (id) ON DELETE CASCADE,
    log              text NOT NULL DEFAULT '',
    observed_through text NULL,
    revision         bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX observer_logs_owner ON observer_logs (tenant_id, user_id, (coalesce(project_id, '')));
