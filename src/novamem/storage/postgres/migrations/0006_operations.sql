-- Operations bookkeeping shared by every replica: metrics counters, short-lived rate buckets, and the
-- last successful run of each periodic job.

-- lifetime counters: each replica adds its unflushed deltas every few seconds (additive upsert), so a
-- row holds the deployment-wide sum; tenant '*' holds deployment work (decay runs, reaped orphans)
CREATE TABLE metrics_counters (
    tenant_id  text NOT NULL,
    name       text NOT NULL,
    value      bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- 10-second buckets of the counters behind the per-second rates; rows older than an hour are pruned
CREATE TABLE metrics_buckets (
    bucket    timestamptz NOT NULL,
    tenant_id text NOT NULL,
    name      text NOT NULL,
    value     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, tenant_id, name)
);

-- one row per periodic job, rewritten each time the job completes (decay keeps its own decay_runs)
CREATE TABLE job_runs (
    job         text PRIMARY KEY,
    last_run_at timestamptz NOT NULL,
    runs        bigint NOT NULL DEFAULT 0,
    result      jsonb NOT NULL DEFAULT '{}'::jsonb
);
