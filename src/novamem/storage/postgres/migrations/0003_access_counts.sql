-- Hit counts move to their own narrow table. Counting a hit used to rewrite the whole memory row,
-- and with it an entry in every index of memory_entries (the HNSW and GIN ones included) on each
-- search; now it touches one small row. `hits` counts retrievals (and exact re-remembers); the old
-- column also counted the first write, hence the - 1.
CREATE TABLE memory_access (
    entry_id      text PRIMARY KEY REFERENCES memory_entries (id) ON DELETE CASCADE,
    tenant_id     text NOT NULL,
    hits          integer NOT NULL DEFAULT 1,
    last_accessed timestamptz NOT NULL DEFAULT now()
);

INSERT INTO memory_access (entry_id, tenant_id, hits, last_accessed)
SELECT id, tenant_id, hits - 1, coalesce(last_accessed, created_at) FROM memory_entries
 WHERE hits > 1;

ALTER TABLE memory_entries DROP COLUMN hits, DROP COLUMN last_accessed;
