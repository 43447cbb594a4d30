-- Keep the fast-update pending lists of the two GIN indexes of memory_entries short. A GIN index appends new
-- entries to an unsorted pending list and merges them into the index only when the list outgrows
-- `gin_pending_list_limit` (4 MB by default) or a vacuum runs; until then every search through the index
-- reads the whole list. At 100,000 memories autovacuum waits for some 20,000 inserts, so a live server
-- that keeps storing memories searched through megabytes of pending entries: after 16,000 writes the
-- keyword phase took 7 ms more at the median (docs/benchmarks.md, "Fresh writes and the full-text
-- index"). 64 kB (the smallest setting) bounds what a search reads to eight pages, and each write pays
-- tens of microseconds more for merging its entries in sooner. The lists left by earlier writes are
-- merged now.
ALTER INDEX memory_entries_tsv SET (gin_pending_list_limit = 64);
ALTER INDEX memory_entries_namespaces SET (gin_pending_list_limit = 64);
SELECT gin_clean_pending_list('memory_entries_tsv'::regclass);
SELECT gin_clean_pending_list('memory_entries_namespaces'::regclass);
