-- The members of one source reference (a transcript, a meeting, a split document) in the order they were
-- written: entry ids are ULIDs that never go backwards within a server process, so the graph stage of
-- search reads a memory's neighbours in its source (the turn before, the turn after) with two short
-- index range reads. The new index serves every lookup the old one did (tenant and reference first).
CREATE INDEX memory_source_refs_order ON memory_source_refs (tenant_id, source_ref, entry_id);
DROP INDEX memory_source_refs_lookup;
