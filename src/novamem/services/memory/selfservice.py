"""Self-service data of one user: export and import, usage, the change feed, today's activity, onboarding.

Everything is read through the caller's entry scope: their own user-global entries plus the projects
they are a member of (a project-confined token: its project only).
"""

from __future__ import annotations

from datetime import datetime

from novamem.domain.entries import MemoryEntry, iso
from novamem.domain.scope import Caller
from novamem.errors import Conflict, Forbidden, InvalidInput, NotFound, NovamemError, RateLimited
from novamem.services.identity.access import AccessPolicy
from novamem.services.identity.audit import AuditService
from novamem.services.identity.quota_models import UsageResponse
from novamem.services.identity.quotas import QuotaService
from novamem.services.memory.memories import MemoryService
from novamem.services.memory.models import MemoryCreate
from novamem.services.memory.selfservice_models import (
    ChangesResponse,
    ChangeView,
    ExportEntry,
    ExportResponse,
    ImportFailure,
    ImportRequest,
    ImportResponse,
    OnboardingResponse,
    TodayEvent,
    TodayResponse,
)
from novamem.storage.base import ChangeFeedStore, MemoryStore, SelfServiceStore

__all__ = ["CHANGE_RETENTION_DAYS", "SelfService"]

CHANGE_RETENTION_DAYS = 30
TODAY_HOURS = 24
TODAY_LIMIT = 50
IMPORT_DEFAULT = "import"
# errors that fail one imported item; anything else (an outage) fails the whole request
_ITEM_ERRORS = (NotFound, Forbidden, InvalidInput, Conflict, RateLimited)


def _export_view(entry: MemoryEntry) -> ExportEntry:
    return ExportEntry(
        id=entry.id,
        project_id=entry.project_id,
        content=entry.content,
        namespace=entry.namespace,
        source=entry.source,
        agent_name=entry.agent_name,
        metadata=entry.metadata,
        source_type=entry.source_type,
        captured_from=entry.captured_from,
        confidence=entry.confidence,
        created_at=iso(entry.created_at),
        updated_at=iso(entry.updated_at),
        occurred_at=iso(entry.occurred_at),
    )


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

    async def export(self, caller: Caller, after_id: str | None, limit: int) -> ExportResponse:
        """One keyset page, oldest first. `nextAfterId` is the last entry's id on every non-empty page and
        null on an empty one: clients keep paging until a page comes back empty (reference section 3.5)."""
        scope = await self._access.entry_scope(caller, None)
        page = await self._store.export_page(scope, after_id, limit)
        return ExportResponse(entries=[_export_view(e) for e in page], next_after_id=page[-1].id if page else None)

    async def import_entries(self, caller: Caller, req: ImportRequest, request_ip: str | None) -> ImportResponse:
        """Store each item with `force` (no worthiness gate); exact duplicates are merged, not repeated; a
        text over the length cap is stored as sentence-aware pieces sharing one source ref (one item).

        The items go through `MemoryService.remember_many`: one embedding batch and one multi-row insert
        for the whole request, with each item's failure reported on its own.

        `all_failed` on the result says that nothing was imported or merged (REST then answers 400).
        """
        outcome = ImportResponse(imported=0, deduplicated=0, failed=[])
        writes = [
            MemoryCreate(
                content=item.content,
                namespace=item.namespace,
                source=item.source or IMPORT_DEFAULT,
                agent_name=item.agent_name,
                project=item.project,
                metadata=item.metadata,
                source_type=item.source_type or IMPORT_DEFAULT,
                captured_from=item.captured_from or IMPORT_DEFAULT,
                confidence=item.confidence,
                occurred_at=item.occurred_at,
                force=True,
                split=True,  # a text over the length cap is imported as pieces under it
            )
            for item in req.entries
        ]
        for index, result in enumerate(await self._memories.remember_many_split(caller, writes)):
            if isinstance(result, NovamemError):
                if not isinstance(result, _ITEM_ERRORS):
                    raise result
                outcome.failed.append(ImportFailure(index=index, error=result.message))
            elif result.id is None:
                outcome.failed.append(ImportFailure(index=index, error=result.rejected or "rejected"))
            elif result.deduplicated:
                outcome.deduplicated += 1
            else:
                outcome.imported += 1
        metadata = {"imported": outcome.imported, "deduplicated": outcome.deduplicated, "failed": len(outcome.failed)}
        await self._audit.record(caller, "user.import", caller.user_id, metadata, request_ip=request_ip)
        return outcome

    async def usage(self, caller: Caller) -> UsageResponse:
        """How many entries the caller has stored, and the quota in force (null = unlimited)."""
        return await self._quotas.usage(caller)

    async def changes(
        self, caller: Caller, *, since: datetime | None, after_seq: int | None, limit: int
    ) -> ChangesResponse:
        """Changes to entries the caller can see, oldest first; resume with `afterSeq = nextSeq`."""
        scope = await self._access.entry_scope(caller, None)
        rows = await self._feed.changes(scope, since=since, after_seq=after_seq, limit=limit)
        changes = [
            ChangeView(
                seq=row["seq"],
                entry_id=row["entry_id"],
                project_id=row["project_id"],
                change=row["change"],
                detail=row["detail"],
                at=iso(row["at"]),
            )
            for row in rows
        ]
        return ChangesResponse(changes=changes, next_seq=changes[-1].seq if changes else after_seq)

    async def today(self, caller: Caller) -> TodayResponse:
        """The last 24 hours of the caller's activity, newest first (at most 50 events)."""
        scope = await self._access.entry_scope(caller, None)
        rows = await self._activity.activity(scope, TODAY_HOURS, TODAY_LIMIT)
        return TodayResponse(
            events=[TodayEvent(kind=r["kind"], at=iso(r["at"]), text=r["text"], project=r["project"]) for r in rows]
        )

    async def onboarding(self, caller: Caller) -> OnboardingResponse:
        """Which first-run steps are done: an admin exists, the caller exists, minted a token, stored a memory."""
        state = await self._activity.onboarding(caller.tenant_id, caller.user_id)
        return OnboardingResponse(
            bootstrap_done=state["bootstrap_done"],
            user_exists=state["user_exists"],
            minted_token=state["minted_token"],
            remembered=state["remembered"],
            user_id=caller.user_id,
        )

    async def prune_changes(self) -> int:
        """Drop change-feed rows past the retention period (a background job, leader only)."""
        return await self._feed.prune(CHANGE_RETENTION_DAYS)
