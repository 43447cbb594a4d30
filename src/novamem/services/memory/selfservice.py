"""Self-service data of one user: export and import, usage, the change feed, today's activity, onboarding.

Everything is read through the caller's entry scope: their own user-global entries plus the projects
they are a member of (a project-confined token: its project only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from novamem.domain.entries import MemoryEntry, iso
from novamem.domain.scope import Caller
from novamem.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from novamem.services.identity.access import AccessPolicy
from novamem.services.identity.audit import AuditService
from novamem.services.identity.quotas import QuotaService
from novamem.services.memory.memories import MemoryService
from novamem.services.memory.models import MemoryCreate
from novamem.services.memory.selfservice_models import ImportRequest
from novamem.storage.base import ChangeFeedStore, MemoryStore, SelfServiceStore

__all__ = ["CHANGE_RETENTION_DAYS", "ImportOutcome", "SelfService"]

CHANGE_RETENTION_DAYS = 30
TODAY_HOURS = 24
TODAY_LIMIT = 50
IMPORT_DEFAULT = "import"
# errors that fail one imported item; anything else (an outage) fails the whole request
_ITEM_ERRORS = (NotFound, Forbidden, InvalidInput, Conflict, RateLimited)


@dataclass(slots=True)
class ImportOutcome:
    imported: int = 0
    deduplicated: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def all_failed(self) -> bool:
        return self.imported == 0 and self.deduplicated == 0 and bool(self.failed)

    def to_wire(self) -> dict[str, Any]:
        return {"imported": self.imported, "deduplicated": self.deduplicated, "failed": self.failed}


def _export_view(entry: MemoryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "projectId": entry.project_id,
        "content": entry.content,
        "namespace": entry.namespace,
        "source": entry.source,
        "agentName": entry.agent_name,
        "metadata": entry.metadata,
        "sourceType": entry.source_type,
        "capturedFrom": entry.captured_from,
        "confidence": entry.confidence,
        "createdAt": iso(entry.created_at),
        "updatedAt": iso(entry.updated_at),
    }


class SelfService:
    """The `/v1/me/*` data routes, for real user accounts."""

    def __init__(
        self,
        *,
        store: MemoryStore,
        feed: ChangeFeedStore,
        activity: SelfServiceStore,
        access: AccessPolicy,
        memories: MemoryService,
        quotas: QuotaService,
        audit: AuditService,
    ) -> None:
        self._store = store
        self._feed = feed
        self._activity = activity
        self._access = access
        self._memories = memories
        self._quotas = quotas
        self._audit = audit

    async def export(self, caller: Caller, after_id: str | None, limit: int) -> dict[str, Any]:
        """One keyset page, oldest first; `nextAfterId` is null when nothing follows."""
        scope = await self._access.entry_scope(caller, None)
        rows = await self._store.export_page(scope, after_id, limit + 1)
        more = len(rows) > limit
        page = rows[:limit]
        return {"entries": [_export_view(e) for e in page], "nextAfterId": page[-1].id if more else None}

    async def import_entries(self, caller: Caller, req: ImportRequest, request_ip: str | None) -> ImportOutcome:
        """Store each item with `force` (no worthiness gate); exact duplicates are merged, not repeated."""
        outcome = ImportOutcome()
        for index, item in enumerate(req.entries):
            write = MemoryCreate(
                content=item.content,
                namespace=item.namespace,
                source=item.source or IMPORT_DEFAULT,
                agent_name=item.agent_name,
                project=item.project,
                metadata=item.metadata,
                source_type=item.source_type or IMPORT_DEFAULT,
                captured_from=item.captured_from or IMPORT_DEFAULT,
                confidence=item.confidence,
                force=True,
            )
            try:
                result = await self._memories.remember(caller, write)
            except _ITEM_ERRORS as exc:
                outcome.failed.append({"index": index, "error": exc.message})
                continue
            if result.id is None:
                outcome.failed.append({"index": index, "error": result.rejected or "rejected"})
            elif result.deduplicated:
                outcome.deduplicated += 1
            else:
                outcome.imported += 1
        metadata = {"imported": outcome.imported, "deduplicated": outcome.deduplicated, "failed": len(outcome.failed)}
        await self._audit.record(caller, "user.import", caller.user_id, metadata, request_ip=request_ip)
        return outcome

    async def usage(self, caller: Caller) -> dict[str, Any]:
        return await self._quotas.usage(caller)

    async def changes(
        self, caller: Caller, *, since: datetime | None, after_seq: int | None, limit: int
    ) -> dict[str, Any]:
        """Changes to entries the caller can see, oldest first; resume with `afterSeq = nextSeq`."""
        scope = await self._access.entry_scope(caller, None)
        rows = await self._feed.changes(scope, since=since, after_seq=after_seq, limit=limit)
        changes = [
            {
                "seq": row["seq"],
                "entryId": row["entry_id"],
                "projectId": row["project_id"],
                "change": row["change"],
                "detail": row["detail"],
                "at": iso(row["at"]),
            }
            for row in rows
        ]
        return {"changes": changes, "nextSeq": changes[-1]["seq"] if changes else after_seq}

    async def today(self, caller: Caller) -> dict[str, Any]:
        """The last 24 hours of the caller's activity, newest first (at most 50 events)."""
        scope = await self._access.entry_scope(caller, None)
        rows = await self._activity.activity(scope, TODAY_HOURS, TODAY_LIMIT)
        return {
            "events": [
                {"kind": r["kind"], "at": iso(r["at"]), "text": r["text"], "project": r["project"]} for r in rows
            ]
        }

    async def onboarding(self, caller: Caller) -> dict[str, Any]:
        state = await self._activity.onboarding(caller.tenant_id, caller.user_id)
        return {
            "bootstrapDone": state["bootstrap_done"],
            "userExists": state["user_exists"],
            "mintedToken": state["minted_token"],
            "remembered": state["remembered"],
            "userId": caller.user_id,
        }

    async def prune_changes(self) -> int:
        """Drop change-feed rows past the retention period (a background job, leader only)."""
        return await self._feed.prune(CHANGE_RETENTION_DAYS)
