"""Entry drafts for the storage tests: a plain user-global memory of one user."""

from __future__ import annotations

import hashlib

from ulid import ULID

from novamem.domain.entries import EntryDraft, Sensitivity


def user_draft(
    content: str, *, tenant: str = "acme", user: str = "alice", embedding: list[float] | None = None
) -> EntryDraft:
    """A private, user-global draft in namespace `default`, with a fresh id."""
    return EntryDraft(
        id=str(ULID()),
        tenant_id=tenant,
        user_id=user,
        project_id=None,
        scope_key=f"u:{user}",
        namespace="default",
        content=content,
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
        source="manual",
        agent_name=None,
        metadata={},
        source_type=None,
        captured_from=None,
        confidence=1.0,
        sensitivity=Sensitivity.PRIVATE,
        expires_at=None,
        source_refs=[],
        embedding=embedding,
    )
