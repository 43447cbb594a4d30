-- Core memory schema. Every memory row carries tenant, user, project (nullable) and namespace.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE memory_entries (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    user_id          text NOT NULL,
    project_id       text NULL,
    -- dedup partition: 'p:<project>' for project entries, 'u:<user>' for user-global ones
    scope_key        text NOT NULL,
    namespace        text NOT NULL DEFAULT 'default',
    content          text NOT NULL,
    content_hash     text NOT NULL,
    source           text NOT NULL DEFAULT 'manual',
    agent_name       text NULL,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    cold             boolean NOT NULL DEFAULT false,
    source_type      text NULL,
    captured_from    text NULL,
    confidence       double precision NOT NULL DEFAULT 1,
    sensitivity      smallint NOT NULL DEFAULT 2,
    status           text NOT NULL DEFAULT 'active',
    expires_at       timestamptz NULL,
    hits             integer NOT NULL DEFAULT 1,
    last_accessed    timestamptz NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- vector of `content` under `embedding_model`; NULL embedded_at = embedding owed
    embedding        vector NULL,
    embedding_model  text NULL,
    embedded_at      timestamptz NULL,
    embed_attempts   integer NOT NULL DEFAULT 0,
    graph_pending_at timestamptz NULL,
    tsv              tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    CONSTRAINT memory_entries_status_check CHECK (status IN ('active', 'superseded', 'deprecated')),
    CONSTRAINT memory_entries_sensitivity_check CHECK (sensitivity BETWEEN 0 AND 3)
);

-- exact duplicates are impossible by construction within one tenant and scope
CREATE UNIQUE INDEX memory_entries_dedup ON memory_entries (tenant_id, scope_key, content_hash);
CREATE INDEX memory_entries_scope ON memory_entries (tenant_id, user_id, project_id, namespace);
CREATE INDEX memory_entries_project ON memory_entries (tenant_id, project_id) WHERE project_id IS NOT NULL;
CREATE INDEX memory_entries_recent ON memory_entries (tenant_id, scope_key, created_at DESC);
CREATE INDEX memory_entries_tsv ON memory_entries USING gin (tsv);
CREATE INDEX memory_entries_owed ON memory_entries (created_at) WHERE embedded_at IS NULL;
CREATE INDEX memory_entries_graph_owed ON memory_entries (created_at) WHERE graph_pending_at IS NOT NULL;
CREATE INDEX memory_entries_expiry ON memory_entries (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE memory_source_refs (
    entry_id   text NOT NULL REFERENCES memory_entries (id) ON DELETE CASCADE,
    tenant_id  text NOT NULL,
    source_ref text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entry_id, source_ref)
);
CREATE INDEX memory_source_refs_lookup ON memory_source_refs (tenant_id, source_ref);

CREATE TABLE memory_relations (
    tenant_id  text NOT NULL,
    from_id    text NOT NULL REFERENCES memory_entries (id) ON DELETE CASCADE,
    to_id      text NOT NULL REFERENCES memory_entries (id) ON DELETE CASCADE,
    relation   text NOT NULL DEFAULT 'co_occurs',
    strength   double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    valid_from timestamptz NOT NULL DEFAULT now(),
    valid_to   timestamptz NULL,
    PRIMARY KEY (from_id, to_id, relation)
);
CREATE INDEX memory_relations_to ON memory_relations (to_id) WHERE valid_to IS NULL;

CREATE TABLE decay_runs (
    id            bigserial PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NULL,
    demoted       integer NOT NULL DEFAULT 0,
    promoted      integer NOT NULL DEFAULT 0,
    effective_days double precision NULL
);

CREATE TABLE engine_state (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
