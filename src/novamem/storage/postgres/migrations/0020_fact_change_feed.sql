-- The change feed for derived facts (migration 0017). A fact is created by its landing, which logs `created`
-- in the same statement, and retired by fact consolidation, which logs `superseded`; both are written by the
-- application. What happens to a fact because of its source is not: the facts of a deleted source go by the
-- foreign key's cascade, those of a source whose content changed or that moved to another owner are deleted
-- by 0017's triggers, and 0017's follow trigger copies the source's status, expiry, sensitivity and
-- namespace to them. The triggers below log those, so a client mirroring the feed holds every fact it was
-- told about until it is told, exactly once, that the fact is gone.
--
-- Who logs what: a statement that deletes or changes entries itself (forget, expiry, dream-cycle merges, a
-- replaced duplicate, consolidation) logs every row it names in that statement, facts included, so a fact
-- touched at trigger depth 0 is left to it. A fact deleted or changed inside a trigger (the cascade's
-- referential action or 0017's triggers) is logged here, once per event. Each row carries the fact's owner
-- (tenant, user, project), so only those who could see the fact see the event. Nothing is logged for facts
-- whose project is gone with them (a project deleted with its owner): nobody can read that project's feed
-- any more. The feed keeps no foreign key to the entries, so these rows outlive them.
CREATE FUNCTION novamem_facts_log_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved boolean;
    reason text := 'source_deleted';
BEGIN
    IF OLD.project_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM projects WHERE id = OLD.project_id) THEN
        RETURN NULL;
    END IF;
    -- a source still there changed its content (0017's retract) or its owner (0017's follow)
    SELECT (s.tenant_id, s.user_id, s.project_id, s.scope_key, s.organization_id)
           IS DISTINCT FROM (OLD.tenant_id, OLD.user_id, OLD.project_id, OLD.scope_key, OLD.organization_id)
      INTO moved FROM memory_entries s WHERE s.id = OLD.fact_source_id;
    IF FOUND THEN
        reason := CASE WHEN moved THEN 'source_moved' ELSE 'source_changed' END;
    END IF;
    INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)
    VALUES (OLD.tenant_id, OLD.user_id, OLD.project_id, OLD.id, 'deleted',
            jsonb_build_object('fact', true, 'sourceId', OLD.fact_source_id, 'reason', reason));
    RETURN NULL;
END;
$$;

-- `pg_trigger_depth()` is read when the deletion is queued: 0 for a statement's own rows, 1 or more for rows
-- a trigger deletes
CREATE TRIGGER memory_entries_facts_log_deleted AFTER DELETE ON memory_entries
    FOR EACH ROW WHEN (OLD.fact_source_id IS NOT NULL AND pg_trigger_depth() > 0)
    EXECUTE FUNCTION novamem_facts_log_deleted();

-- A fact following its source: `superseded` when the source was superseded (a contradicting capture), else
-- `updated` as the source's own change is logged (its content stays the same)
CREATE FUNCTION novamem_facts_log_followed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'superseded' AND OLD.status IS DISTINCT FROM 'superseded' THEN
        INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)
        VALUES (NEW.tenant_id, NEW.user_id, NEW.project_id, NEW.id, 'superseded',
                jsonb_build_object('fact', true, 'sourceId', NEW.fact_source_id, 'reason', 'source_superseded'));
    ELSE
        INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)
        VALUES (NEW.tenant_id, NEW.user_id, NEW.project_id, NEW.id, 'updated',
                jsonb_build_object('fact', true, 'sourceId', NEW.fact_source_id, 'contentChanged', false));
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memory_entries_facts_log_followed
    AFTER UPDATE OF status, expires_at, sensitivity, namespace ON memory_entries
    FOR EACH ROW WHEN (NEW.fact_source_id IS NOT NULL AND pg_trigger_depth() > 0
        AND (OLD.status, OLD.expires_at, OLD.sensitivity, OLD.namespace)
            IS DISTINCT FROM (NEW.status, NEW.expires_at, NEW.sensitivity, NEW.namespace))
    EXECUTE FUNCTION novamem_facts_log_followed();
