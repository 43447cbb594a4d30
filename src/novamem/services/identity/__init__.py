"""Who is calling and what they may do: accounts, sessions, credentials, tokens, scope, quotas and audit."""
