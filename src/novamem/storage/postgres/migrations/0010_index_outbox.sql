-- The durable outbox that feeds derived indexes (Qdrant vectors, FalkorDB graph) from the warm tier.
-- A row is written in the same transaction as the memory change it describes, only for the targets that
-- are enabled; a drainer claims rows per target (FOR UPDATE SKIP LOCKED), applies them to the index
-- (idempotently), then deletes them, or records the failure and backs off. An index outage therefore
-- never loses or blocks a write: the rows simply wait here.
-- `op` is 'upsert' (the index must hold the entry as PostgreSQL has it now, or drop it if it is gone) or
-- 'delete'. No foreign key: a delete row must outlive the entry it removes.
CREATE TABLE index_outbox (
    id              bigserial PRIMARY KEY,
    target          text NOT NULL CHECK (target IN ('vector', 'graph')),
    tenant_id       text NOT NULL,
    entry_id        text NOT NULL,
    op              text NOT NULL CHECK (op IN ('upsert', 'delete')),
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NULL
);
CREATE INDEX index_outbox_due ON index_outbox (target, next_attempt_at, id);

-- where an interrupted `novamem reindex` resumes: the last entry id it finished, per target and index name
CREATE TABLE index_rebuilds (
    target     text NOT NULL,
    index_name text NOT NULL,
    last_id    text NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, index_name)
);

-- The targets this deployment keeps in step (written by every replica at start-up from its settings:
-- 'vector' with NOVAMEM_VECTOR_STORE=qdrant, 'graph' with NOVAMEM_GRAPH_STORE=falkordb). Empty by default,
-- so a deployment on PostgreSQL alone queues nothing.
CREATE TABLE index_targets (
    target text PRIMARY KEY CHECK (target IN ('vector', 'graph'))
);

-- Queueing is done by statement-level triggers on memory_entries, so every path that changes or removes
-- an entry queues its index work in the same transaction, including rows removed by SQL cascades (project
-- delete, user and tenant erasure) and the purge of expired entries, which no application code sees row
-- by row.
--   insert                           → upsert (the sink reads the row; one without a vector is skipped)
--   update of anything an index holds → upsert (vector (embedded_at moves with it), model, content, ownership, namespace, status,
--                                       sensitivity, tier, expiry, agent, owed graph edges)
--   delete (direct or cascaded)      → delete
CREATE FUNCTION novamem_index_outbox_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM index_targets) THEN
        INSERT INTO index_outbox (target, tenant_id, entry_id, op)
        SELECT t.target, n.tenant_id, n.id, 'upsert' FROM new_rows n CROSS JOIN index_targets t;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION novamem_index_outbox_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM index_targets) THEN
        INSERT INTO index_outbox (target, tenant_id, entry_id, op)
        SELECT t.target, n.tenant_id, n.id, 'upsert'
        FROM new_rows n JOIN old_rows o ON o.id = n.id CROSS JOIN index_targets t
        WHERE (o.embedded_at, o.embedding_model, o.content_hash, o.user_id, o.project_id, o.scope_key,
               o.organization_id, o.namespace, o.status, o.sensitivity, o.cold, o.expires_at, o.agent_name,
               o.graph_pending_at)
              IS DISTINCT FROM
              (n.embedded_at, n.embedding_model, n.content_hash, n.user_id, n.project_id, n.scope_key,
               n.organization_id, n.namespace, n.status, n.sensitivity, n.cold, n.expires_at, n.agent_name,
               n.graph_pending_at);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION novamem_index_outbox_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM index_targets) THEN
        INSERT INTO index_outbox (target, tenant_id, entry_id, op)
        SELECT t.target, g.tenant_id, g.id, 'delete' FROM old_rows g CROSS JOIN index_targets t;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memory_entries_index_insert AFTER INSERT ON memory_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION novamem_index_outbox_insert();
CREATE TRIGGER memory_entries_index_update AFTER UPDATE ON memory_entries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_index_outbox_update();
CREATE TRIGGER memory_entries_index_delete AFTER DELETE ON memory_entries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION novamem_index_outbox_delete();
