-- A changed quota override moves the deployment-wide auth epoch (0004) in the same transaction, so every
-- replica, which reuses a user's override only while the epoch its caller was resolved under stands still,
-- enforces the new limits from its very next request (no per-write query while nothing changes). Moving
-- the epoch also makes replicas resolve credentials again once: quota changes are rare admin actions.
CREATE TRIGGER user_quotas_auth_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_quotas
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();
