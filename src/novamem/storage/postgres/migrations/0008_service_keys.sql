-- On-behalf-of (OBO) service keys (reference 8.4): an admin registers a platform's Ed25519 public key,
-- bound to one organization of the admin's tenant; the platform then signs short-lived EdDSA JWTs for its
-- own users with the private half, which novamem never holds. `id` is the JWT header's `kid`;
-- `public_key` is the raw 32-byte key, base64url without padding. Revoked keys stay listed.
CREATE TABLE service_keys (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name            text NOT NULL,
    organization_id text NOT NULL CHECK (organization_id <> 'default'),
    public_key      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at      timestamptz NULL,
    created_by      text NULL
);
CREATE INDEX service_keys_listing ON service_keys (tenant_id, created_at DESC);

-- a key registered or revoked moves the auth epoch in the same transaction, so every replica sees the
-- change on its very next request (revocation ends a platform's tokens at once)
CREATE TRIGGER service_keys_auth_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_keys
    FOR EACH STATEMENT EXECUTE FUNCTION novamem_bump_auth_epoch();

-- The organization of an OBO caller's entries; NULL for every ordinary caller. Every entry read, dedupe,
-- update and delete filter matches it (storage/postgres/scoping.py), beside the owner's composite user id
-- `org:<org>/<sub>`, as defence in depth: an ordinary user never sees an organization's entries.
ALTER TABLE memory_entries ADD COLUMN organization_id text NULL;
