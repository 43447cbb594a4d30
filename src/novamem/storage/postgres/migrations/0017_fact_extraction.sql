-- LLM fact extraction (optional, NOVAMEM_EXTRACTION_ENABLED). A written or rewritten entry owes an
-- extraction (`facts_pending_at`, the durable debt, set by the write's own statement); the drain claims due
-- rows (`facts_next_at`: a claim's lease, or the backoff after a failure; `facts_attempts` counts
-- failures) and lands their facts as ordinary rows linked to the source.
--
-- No stale fact may land. `facts_revision` counts the content versions of a row (bumped by the trigger
-- below whenever `content_hash` changes); an extraction records the revision it read, and its landing
-- locks the source row and lands only while the row still exists at that revision and still owes.
-- A fact row points at its source through `fact_source_id` (ON DELETE CASCADE), so every path that
-- deletes a source (forget by id or source ref, project and user delete, expiry, dream-cycle merges)
-- deletes its facts in the same transaction, and a fact can never be inserted for a source that is gone.
-- A content change deletes the old facts in the updating statement's transaction: the trigger runs
-- after the row lock is taken and reads with a fresh snapshot, so it also sees facts whose landing
-- committed while the update waited for the lock.
-- Facts also follow what decides their source's visibility: its status (a superseded or deprecated
-- source hides its facts), expiry, sensitivity and home namespace are copied to them when they change,
-- and a source moved to another owner takes its facts out of the old one (they are deleted).
ALTER TABLE memory_entries
    ADD COLUMN facts_pending_at timestamptz NULL,
    ADD COLUMN facts_next_at    timestamptz NULL,
    ADD COLUMN facts_attempts   integer NOT NULL DEFAULT 0,
    ADD COLUMN facts_revision   bigint NOT NULL DEFAULT 0,
    ADD COLUMN fact_source_id   text NULL REFERENCES memory_entries (id) ON DELETE CASCADE;

CREATE INDEX memory_entries_facts_owed ON memory_entries (facts_next_at) WHERE facts_pending_at IS NOT NULL;
CREATE INDEX memory_entries_fact_source ON memory_entries (fact_source_id) WHERE fact_source_id IS NOT NULL;

CREATE FUNCTION novamem_facts_revise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.facts_revision := OLD.facts_revision + 1;
    RETURN NEW;
END;
$$;

CREATE FUNCTION novamem_facts_retract() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM memory_entries WHERE fact_source_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memory_entries_facts_revise BEFORE UPDATE OF content_hash ON memory_entries
    FOR EACH ROW WHEN (OLD.content_hash IS DISTINCT FROM NEW.content_hash)
    EXECUTE FUNCTION novamem_facts_revise();

CREATE TRIGGER memory_entries_facts_retract AFTER UPDATE OF content_hash ON memory_entries
    FOR EACH ROW WHEN (OLD.content_hash IS DISTINCT FROM NEW.content_hash)
    EXECUTE FUNCTION novamem_facts_retract();

CREATE FUNCTION novamem_facts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.tenant_id, OLD.user_id, OLD.project_id, OLD.scope_key, OLD.organization_id)
       IS DISTINCT FROM (NEW.tenant_id, NEW.user_id, NEW.project_id, NEW.scope_key, NEW.organization_id) THEN
        DELETE FROM memory_entries WHERE fact_source_id = NEW.id;
    ELSE
        -- (a fact the dream cycle retired as outdated stays retired whatever its source does)
        UPDATE memory_entries f SET status = CASE WHEN f.metadata->>'fact_inactive' = 'true' THEN f.status
                ELSE NEW.status END,
            expires_at = NEW.expires_at,
            sensitivity = NEW.sensitivity, namespace = NEW.namespace,
            metadata = jsonb_set(f.metadata, '{sensitivity}', coalesce(NEW.metadata->'sensitivity', 'null'::jsonb))
        WHERE f.fact_source_id = NEW.id
          AND (f.status, f.expires_at, f.sensitivity, f.namespace)
              IS DISTINCT FROM (NEW.status, NEW.expires_at, NEW.sensitivity, NEW.namespace);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memory_entries_facts_follow
    AFTER UPDATE OF status, expires_at, sensitivity, namespace, tenant_id, user_id, project_id, scope_key,
        organization_id ON memory_entries
    FOR EACH ROW WHEN (
        (OLD.status, OLD.expires_at, OLD.sensitivity, OLD.namespace, OLD.tenant_id, OLD.user_id, OLD.project_id,
         OLD.scope_key, OLD.organization_id)
        IS DISTINCT FROM
        (NEW.status, NEW.expires_at, NEW.sensitivity, NEW.namespace, NEW.tenant_id, NEW.user_id, NEW.project_id,
         NEW.scope_key, NEW.organization_id))
    EXECUTE FUNCTION novamem_facts_follow();
