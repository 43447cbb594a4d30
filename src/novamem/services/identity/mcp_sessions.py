"""MCP sessions of the Streamable HTTP handshake era, shared by every replica.

A session id is a random secret handed out on `initialize`; only its SHA-256 is stored, with the user who opened
it. Any replica can serve any session (no sticky routing), and a session is usable only by the user who opened
it: another user's session id behaves exactly like an unknown one. Each user has at most `cap` live sessions
across the deployment; a session nobody used for `idle_seconds` is gone.
"""

from __future__ import annotations

import secrets

from novamem.domain.credentials import hash_secret
from novamem.domain.scope import Caller
from novamem.error_messages import MCP_TOO_MANY_SESSIONS
from novamem.errors import RateLimited
from novamem.storage.base import McpSessionStore

__all__ = ["McpSessions"]

# `last_seen` is rewritten at most this often per session, so a busy session costs one read per request
TOUCH_AFTER_S = 30


class McpSessions:
    """Open, check, keep alive and close the MCP sessions of each user, deployment-wide."""

    def __init__(self, store: McpSessionStore, *, cap: int, idle_seconds: int) -> None:
        self._store = store
        self.cap = cap
        self.idle_seconds = idle_seconds

    async def open(self, caller: Caller) -> str:
        """A new session id for the caller; RateLimited when the caller already holds `cap` live sessions."""
        session_id = secrets.token_urlsafe(32)
        opened = await self._store.open(
            hash_secret(session_id), caller.tenant_id, caller.user_id, cap=self.cap, idle_seconds=self.idle_seconds
        )
        if not opened:
            raise RateLimited(MCP_TOO_MANY_SESSIONS, retry_after=60)
        return session_id

    async def owned(self, caller: Caller, session_id: str) -> bool:
        """Whether `session_id` is a live session of this caller's user (and keep it alive)."""
        if not _plausible(session_id):
            return False
        owner = await self._store.owner(
            hash_secret(session_id), idle_seconds=self.idle_seconds, touch_after_seconds=TOUCH_AFTER_S
        )
        return owner is not None and owner.tenant_id == caller.tenant_id and owner.user_id == caller.user_id

    async def keep_alive(self, session_id: str) -> None:
        """Mark a session used (an open keep-alive stream counts as use)."""
        await self._store.touch(hash_secret(session_id))

    async def close(self, caller: Caller, session_id: str) -> bool:
        """End one of the caller's sessions; False when it is not a live session of theirs."""
        if not _plausible(session_id):
            return False
        return await self._store.close(hash_secret(session_id), caller.tenant_id, caller.user_id)


def _plausible(session_id: str) -> bool:
    # the spec allows visible ASCII only; anything else (or anything huge) cannot be one of ours
    return 0 < len(session_id) <= 128 and all(0x21 <= ord(ch) <= 0x7E for ch in session_id)
