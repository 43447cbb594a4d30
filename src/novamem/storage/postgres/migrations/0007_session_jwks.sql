-- Signing keys of the session JWTs (`GET /api/auth/token`, Better Auth's JWT plugin): Ed25519 key pairs,
-- generated once per deployment and shared by every replica. `public_x` is the raw public key (base64url);
-- `sealed_private` is the raw private key sealed with ChaCha20-Poly1305 under SHA-256(cookie secret), so a
-- copy of the database alone does not sign. The newest unretired key signs; a retired key stays published
-- in the JWKS while tokens it signed may still be alive.
CREATE TABLE session_jwks (
    id             text PRIMARY KEY,
    public_x       text NOT NULL,
    sealed_private text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at     timestamptz NULL
);
CREATE INDEX session_jwks_current ON session_jwks (created_at DESC) WHERE retired_at IS NULL;
