-- One GIN index over each memory's namespaces and its words, in place of one index for each. A search
-- within a namespace filtered the rows of each query term to the namespace by building a bitmap of the
-- namespace's rows for every term (from the scope index for home rows and the membership index for the
-- rest, then OR-ed and AND-ed): at 100,000 memories that was most of the keyword statement in a namespace
-- of 10,000 rows. A multicolumn GIN index matches both columns' keys in one scan. A condition on one column
-- alone (a search without a namespace; a namespace's rows) reads it as well as a single-column index.
-- The namespaces column is indexed through the expression every membership read tests (`MEMBERSHIPS`): rows
-- stored before memberships (migration 0012) have an empty array, which means their home namespace.
CREATE INDEX memory_entries_terms ON memory_entries USING gin (
    (CASE WHEN cardinality(namespaces) = 0 THEN ARRAY[namespace] ELSE namespaces END), tsv
) WITH (gin_pending_list_limit = 64);
DROP INDEX memory_entries_tsv;
DROP INDEX memory_entries_namespaces;
-- statistics of the indexed expression, which the planner estimates membership tests with (a background
-- refresh names columns and leaves index expressions to autovacuum's analyses)
ANALYZE memory_entries;
