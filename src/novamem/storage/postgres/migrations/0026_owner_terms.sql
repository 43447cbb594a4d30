-- The GIN index over memberships and words (migration 0024) gains a first column: each memory's owner
-- (`u:<user>` for a user's own memories, `p:<project>` for a project's, as the entity postings name them
-- since migration 0025). A keyword search reads a term's rows through the index and then drops those the
-- scope may not read; in a store shared by many users, a term's rows are mostly other users', and for one
-- user among many the search read tens of times more rows than it kept. With the owner in the index, the
-- owner, the namespaces and the term are matched in one scan. The owner is computed from the very columns
-- the scope filter tests, so it always agrees with them. Rebuilding the index makes writes wait for it
-- (about two seconds at 100,000 memories).
DROP INDEX memory_entries_terms;
CREATE INDEX memory_entries_terms ON memory_entries USING gin (
    (ARRAY[CASE WHEN project_id IS NULL THEN 'u:' || user_id ELSE 'p:' || project_id END]),
    (CASE WHEN cardinality(namespaces) = 0 THEN ARRAY[namespace] ELSE namespaces END),
    tsv
) WITH (gin_pending_list_limit = 64);
-- statistics of the indexed expressions, from which the planner estimates owner and membership tests
ANALYZE memory_entries;
