-- Promotions (cold entries a search or context hit brought back to warm) are counted deployment-wide
-- until the next decay pass reports them in its answer and its `decay_runs` row and takes them off.
-- One row, written only when a hit actually promotes something, so ordinary hits never contend on it.
CREATE TABLE decay_promotions (
    id      boolean PRIMARY KEY DEFAULT true CONSTRAINT decay_promotions_one_row CHECK (id),
    pending bigint NOT NULL DEFAULT 0
);
INSERT INTO decay_promotions DEFAULT VALUES;
