-- MCP sessions (Streamable HTTP, handshake era) live in PostgreSQL so that any replica can serve any session and
-- the per-user cap holds for the whole deployment. Only the SHA-256 of a session id is stored.
CREATE TABLE mcp_sessions (
    id_hash    text PRIMARY KEY,
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_sessions_owner ON mcp_sessions (tenant_id, user_id, last_seen);
CREATE INDEX mcp_sessions_last_seen ON mcp_sessions (last_seen);
