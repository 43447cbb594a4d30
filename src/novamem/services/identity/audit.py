"""Recording admin and project-management actions (who, what, on what, from where, when), and the
tenant admins' pages of that log."""

from __future__ import annotations

import logging
from typing import Any

from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.errors import NovamemError
from novamem.services.identity.access import require_admin
from novamem.services.identity.account_models import AuditEntry, AuditLog, AuditPage, AuditQuery
from novamem.storage.base import AuditRecord, AuditStore

__all__ = ["AuditService"]

log = logging.getLogger("novamem.audit")


class AuditService:
    """The audit log. Writes are best effort (a failed audit write is logged, never blocks the action);
    reading it is for the tenant's admins."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store

    async def record(
        self,
        caller: Caller,
        action: str,
        target: str | None,
        metadata: dict[str, Any] | None = None,
        *,
        request_ip: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        """Append one action to the tenant's audit log (the caller's tenant unless `tenant_id` names another)."""
        label = f"user:{caller.email}" if caller.email else ("operator" if caller.is_operator else "unknown")
        record = AuditRecord(
            tenant_id=tenant_id or caller.tenant_id,
            actor_user_id=caller.user_id if caller.is_user else None,
            actor_label=label,
            action=action,
            target=target,
            metadata=metadata or {},
            request_ip=request_ip,
        )
        try:
            await self._store.append(record)
        except NovamemError as exc:
            log.error("audit write failed for %s: %s", action, exc.message)

    async def recent(self, caller: Caller, limit: int) -> AuditLog:
        """The newest `limit` audit entries of the caller's tenant (admins only)."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        return AuditLog(entries=[_entry(row) for row in await self._store.recent(caller.tenant_id, limit)])

    async def page(self, caller: Caller, query: AuditQuery) -> AuditPage:
        """A page of the caller's tenant's audit log, newest first, optionally filtered by a text (admins only)."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        text = (query.q or "").strip() or None
        rows = await self._store.search(caller.tenant_id, text, query.limit + 1, query.offset)
        return AuditPage(
            entries=[_entry(row) for row in rows[: query.limit]],
            q=text,
            limit=query.limit,
            offset=query.offset,
            has_more=len(rows) > query.limit,
        )


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        ts=iso(row["ts"]),
        actor_user_id=row["actor_user_id"],
        actor_label=row["actor_label"],
        action=row["action"],
        target=row["target"],
        metadata=row["metadata"],
        request_ip=row["request_ip"],
    )
