-- Each entity posting carries its memory's owner (`u:<user>` for a user's own memories, `p:<project>` for a
-- project's; the same partition as the memory's scope key), so the graph stage reads the postings of the
-- owners a search may read. Before, it read an entity's postings across the tenant and checked each memory
-- against the scope: in a team's store, an entity common among the other users' memories made every lookup
-- long. A memory's owner never changes. The key leads with (tenant, entity, owner) for those lookups; a
-- lookup by entity alone reads the same index. The table is copied rather than updated in place, which
-- would leave a dead copy of every row behind (twice the size until a vacuum).
CREATE TABLE memory_entity_postings_owned (
    tenant_id text NOT NULL,
    entity    text NOT NULL,
    entry_id  text NOT NULL,
    owner     text NOT NULL
);
INSERT INTO memory_entity_postings_owned (tenant_id, entity, entry_id, owner)
SELECT p.tenant_id, p.entity, p.entry_id,
       CASE WHEN e.project_id IS NULL THEN 'u:' || e.user_id ELSE 'p:' || e.project_id END
  FROM memory_entity_postings p JOIN memory_entries e ON e.id = p.entry_id;
DROP TABLE memory_entity_postings;
ALTER TABLE memory_entity_postings_owned RENAME TO memory_entity_postings;
ALTER TABLE memory_entity_postings ADD CONSTRAINT memory_entity_postings_pkey
    PRIMARY KEY (tenant_id, entity, owner, entry_id);
ALTER TABLE memory_entity_postings ADD CONSTRAINT memory_entity_postings_entry_id_fkey
    FOREIGN KEY (entry_id) REFERENCES memory_entries (id) ON DELETE CASCADE;
CREATE INDEX memory_entity_postings_entry ON memory_entity_postings (entry_id);
ANALYZE memory_entity_postings;
