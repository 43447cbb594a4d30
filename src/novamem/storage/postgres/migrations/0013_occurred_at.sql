-- When the thing a memory talks about happened (the request's `occurredAt`, e.g. a chat session's date),
-- as opposed to when it was stored (`created_at`). NULL when unknown. Recency is computed from it when
-- present, and a search whose query names a time ("last year", "in May 2023") boosts the memories whose
-- `occurred_at` (else `created_at`) falls in that window. It is read only for the candidates of a search,
-- never filtered on, so it needs no index.
ALTER TABLE memory_entries ADD COLUMN occurred_at timestamptz NULL;
