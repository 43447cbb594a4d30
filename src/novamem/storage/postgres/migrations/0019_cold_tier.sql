-- The tier moves to its own narrow table, as hit counts did in 0003. A row in `memory_cold` means the
-- entry is cold; no row means warm. Demoting used to rewrite the whole memory row, and with it an entry
-- in every index of memory_entries (the HNSW and GIN ones included): about 2 ms a row, minutes for the
-- first pass over a large store. Now demoting inserts one small row and promoting deletes it; the
-- memory row and its indexes are never touched by decay.
--
-- The derived indexes (Qdrant, FalkorDB) no longer carry the tier: nothing filtered on it there, and a
-- copy that decay does not keep current would only go stale.
CREATE TABLE memory_cold (
    entry_id  text PRIMARY KEY REFERENCES memory_entries (id) ON DELETE CASCADE,
    tenant_id text NOT NULL,
    since     timestamptz NOT NULL DEFAULT now()
);

-- (entries already cold get this moment as `since`: when they went cold was never recorded)
INSERT INTO memory_cold (entry_id, tenant_id) SELECT id, tenant_id FROM memory_entries WHERE cold;

CREATE OR REPLACE FUNCTION novamem_index_outbox_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM index_targets) THEN
        INSERT INTO index_outbox (target, tenant_id, entry_id, op)
        SELECT t.target, n.tenant_id, n.id, 'upsert'
        FROM new_rows n JOIN old_rows o ON o.id = n.id CROSS JOIN index_targets t
        WHERE (o.embedded_at, o.embedding_model, o.content_hash, o.user_id, o.project_id, o.scope_key,
               o.organization_id, o.namespace, o.namespaces, o.status, o.sensitivity, o.expires_at,
               o.agent_name, o.graph_pending_at)
              IS DISTINCT FROM
              (n.embedded_at, n.embedding_model, n.content_hash, n.user_id, n.project_id, n.scope_key,
               n.organization_id, n.namespace, n.namespaces, n.status, n.sensitivity, n.expires_at,
               n.agent_name, n.graph_pending_at);
    END IF;
    RETURN NULL;
END;
$$;

ALTER TABLE memory_entries DROP COLUMN cold;
