-- A deployment-wide counter that moves whenever anything a credential resolves to changes: a token
-- revoked, rotated or re-scoped, a user banned, demoted, renamed or erased, a session ended or
-- rolled, a membership or active project changed, a project deleted. Replicas may keep resolved
-- credentials in memory while the counter stands still; the triggers below move it in the same
-- transaction as the change, so the very next request sees it.
CREATE TABLE auth_epoch (
    id    smallint PRIMARY KEY DEFAULT 1,
    value bigint NOT NULL DEFAULT 0,
    CONSTRAINT auth_epoch_single_row CHECK (id = 1)
);
INSERT INTO auth_epoch (id, value) VALUES (1, 0);

CREATE FUNCTION novamem_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER user_tokens_auth_epoch AFTER DELETE OR TRUNCATE ON user_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
-- last-use stamps do not count: they change nothing a token resolves to
CREATE TRIGGER user_tokens_auth_epoch_update AFTER UPDATE ON user_tokens
    FOR EACH ROW WHEN (
        OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
        OR OLD.scope IS DISTINCT FROM NEW.scope OR OLD.project_id IS DISTINCT FROM NEW.project_id
        OR OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
    ) EXECUTE FUNCTION novamem_bump_auth_epoch();
CREATE TRIGGER users_auth_epoch AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
CREATE TRIGGER auth_sessions_auth_epoch AFTER UPDATE OR DELETE OR TRUNCATE ON auth_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
CREATE TRIGGER project_members_auth_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON project_members
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
CREATE TRIGGER user_active_project_auth_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_active_project
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
CREATE TRIGGER projects_auth_epoch AFTER DELETE OR TRUNCATE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
CREATE TRIGGER tenants_auth_epoch AFTER DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
