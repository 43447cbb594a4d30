-- The entities each memory is filed under (`domain.linking.posting_entities`), so the graph stage looks an
-- entity up with a short read of this index instead of a phrase search of the full-text index, which built
-- the whole posting list of every word of the phrase (a name or a date common in the store) before its limit
-- applied. Written with the memory, replaced with its content, gone with it (the foreign key). Rows stored
-- before this migration are filed at the next start-up (`engine_state` `entity_postings` is the id filed up
-- to, `after:<id>`, until it says `complete`); a new store has nothing to file.
CREATE TABLE memory_entity_postings (
    tenant_id text NOT NULL,
    entity    text NOT NULL,
    entry_id  text NOT NULL REFERENCES memory_entries (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, entity, entry_id)
);
CREATE INDEX memory_entity_postings_entry ON memory_entity_postings (entry_id);
INSERT INTO engine_state (key, value)
SELECT 'entity_postings', CASE WHEN EXISTS (SELECT 1 FROM memory_entries) THEN 'after:' ELSE 'complete' END;
