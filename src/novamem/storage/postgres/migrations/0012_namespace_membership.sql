-- Namespace membership. An exact duplicate is one entry per tenant and scope (user globals or one project),
-- whatever the namespace; the entry is now a member of every namespace it was stored under, so a scoped
-- read of any of them finds it. `namespace` stays the entry's home (the one results show); `namespaces`
-- holds every membership, home included, for rows written from now on. Existing rows are not backfilled:
-- rewriting every row would also insert a new entry into every index (the HNSW graph included) and hold
-- start-up for about as long as loading the store took. Their empty `namespaces` means "the home namespace
-- alone"; reads test `namespace = ANY(<asked>) OR namespaces && <asked>` and membership reads go through
-- one expression (`MEMBERSHIPS` in storage/postgres/scoping.py).
ALTER TABLE memory_entries ADD COLUMN namespaces text[] NOT NULL DEFAULT '{}';
CREATE INDEX memory_entries_namespaces ON memory_entries USING gin (namespaces);

-- `namespace` and `namespaces` kept in step for every writer (inserts, bulk inserts, updates, restores):
--   insert                            → the home namespace is a member
--   the home namespace moved (update) → the old home membership becomes the new one
--   the home membership removed       → the first remaining membership becomes home
CREATE FUNCTION novamem_namespace_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.namespace IS DISTINCT FROM OLD.namespace
            AND NEW.namespaces IS NOT DISTINCT FROM OLD.namespaces THEN
        NEW.namespaces := array_remove(NEW.namespaces, OLD.namespace);
    ELSIF TG_OP = 'UPDATE' AND NOT (NEW.namespace = ANY(NEW.namespaces)) AND cardinality(NEW.namespaces) > 0 THEN
        NEW.namespace := NEW.namespaces[1];
    END IF;
    IF NOT (NEW.namespace = ANY(NEW.namespaces)) THEN
        NEW.namespaces := array_append(NEW.namespaces, NEW.namespace);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER memory_entries_namespace_members BEFORE INSERT OR UPDATE OF namespace, namespaces ON memory_entries
    FOR EACH ROW EXECUTE FUNCTION novamem_namespace_members();

-- Which namespace a source ref was given under: forgetting by source removes those memberships only (an
-- entry left with none is deleted). The same ref given under two namespaces is two rows.
ALTER TABLE memory_source_refs ADD COLUMN namespace text;
UPDATE memory_source_refs r SET namespace = e.namespace FROM memory_entries e WHERE e.id = r.entry_id;
ALTER TABLE memory_source_refs ALTER COLUMN namespace SET NOT NULL;
ALTER TABLE memory_source_refs DROP CONSTRAINT memory_source_refs_pkey;
ALTER TABLE memory_source_refs ADD PRIMARY KEY (entry_id, source_ref, namespace);

-- A membership change must reach the derived vector index too (its payload filters on namespaces).
CREATE OR REPLACE FUNCTION novamem_index_outbox_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM index_targets) THEN
        INSERT INTO index_outbox (target, tenant_id, entry_id, op)
        SELECT t.target, n.tenant_id, n.id, 'upsert'
        FROM new_rows n JOIN old_rows o ON o.id = n.id CROSS JOIN index_targets t
        WHERE (o.embedded_at, o.embedding_model, o.content_hash, o.user_id, o.project_id, o.scope_key,
               o.organization_id, o.namespace, o.namespaces, o.status, o.sensitivity, o.cold, o.expires_at,
               o.agent_name, o.graph_pending_at)
              IS DISTINCT FROM
              (n.embedded_at, n.embedding_model, n.content_hash, n.user_id, n.project_id, n.scope_key,
               n.organization_id, n.namespace, n.namespaces, n.status, n.sensitivity, n.cold, n.expires_at,
               n.agent_name, n.graph_pending_at);
    END IF;
    RETURN NULL;
END;
$$;
