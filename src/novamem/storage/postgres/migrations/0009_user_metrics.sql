-- Per-user request counts (`GET /v1/me/metrics`, `/v1/me/metrics/history`), shared by every replica: each
-- replica adds its unflushed deltas every few seconds (additive upserts), like `metrics_counters`.
-- `credential` is the SHA-256 of the API token that made the requests, or '' for dashboard sessions.
-- No foreign keys: a flush must never fail because a token or user went away in the meantime.

-- one row per tenant, user, credential and UTC minute that saw a counted request; pruned after 48 hours
CREATE TABLE user_metric_buckets (
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    credential text NOT NULL,
    minute     timestamptz NOT NULL,
    queries    bigint NOT NULL DEFAULT 0,
    remembers  bigint NOT NULL DEFAULT 0,
    forgets    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, user_id, credential, minute)
);
CREATE INDEX user_metric_buckets_minute ON user_metric_buckets (minute);

-- lifetime totals per credential (never pruned), so the counters outlive the 48 hours of buckets and
-- reading them is one index range, not a sum over thousands of minutes
CREATE TABLE user_metric_totals (
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    credential text NOT NULL,
    queries    bigint NOT NULL DEFAULT 0,
    remembers  bigint NOT NULL DEFAULT 0,
    forgets    bigint NOT NULL DEFAULT 0,
    last_at    timestamptz NULL,
    PRIMARY KEY (tenant_id, user_id, credential)
);

-- an erased user's counts go with the account
CREATE FUNCTION novamem_user_metrics_forget_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_metric_totals WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id;
    DELETE FROM user_metric_buckets WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id;
    RETURN OLD;
END;
$$;
CREATE TRIGGER users_forget_metrics AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION novamem_user_metrics_forget_user();
