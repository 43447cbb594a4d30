"""Admin operations: the tenant's projects and tokens, and the status of the periodic jobs.

Every read here is confined to the admin's own tenant (the tenant is the hard wall); job status is
deployment work and holds no tenant data.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel

from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.error_messages import ADMIN_ONLY, RESTRICTED_TOKEN
from novamem.errors import Forbidden, NovamemError
from novamem.services.identity.token_models import SCOPE_NAMES
from novamem.services.operations.models import (
    AdminProjectList,
    AdminProjectView,
    AdminTokenList,
    AdminTokenView,
    DecayRunView,
    DreamCycleRunView,
    ExpiryPurgeRunView,
    JobRunView,
    OpsStatus,
    OrphanReapRunView,
    PruneRunView,
    ReconcileRunView,
)
from novamem.storage.operations import DecayRun, InventoryStore, JobRun, JobRunLog

__all__ = ["AdminService", "JobName", "metrics_reach", "require_admin", "require_operator"]

log = logging.getLogger("novamem.admin")


class JobName(StrEnum):
    """The periodic jobs whose runs are recorded (decay also keeps its own `decay_runs` table, which job
    status reads)."""

    DECAY = "decay"
    EMBEDDINGS_RECONCILE = "embeddings-reconcile"
    EXPIRY_PURGE = "expiry-purge"
    CHANGE_FEED_PRUNE = "change-feed-prune"
    SESSIONS_PRUNE = "sessions-prune"
    ORPHAN_REAPER = "orphan-reaper"
    DREAM_CYCLE = "dream-cycle"
    FACT_EXTRACTION = "fact-extraction"
    OBSERVER = "observer"


# what a job's bare count means, on the wire
_COUNT_KEY = {
    JobName.EMBEDDINGS_RECONCILE: "embedded",
    JobName.EXPIRY_PURGE: "expired",
    JobName.CHANGE_FEED_PRUNE: "pruned",
    JobName.SESSIONS_PRUNE: "pruned",
}
_RunView = TypeVar("_RunView", bound=JobRunView)


def require_admin(caller: Caller) -> None:
    """An admin's session or unrestricted token (the same rule as the `/v1/admin/*` routes)."""
    if caller.is_restricted:
        raise Forbidden(RESTRICTED_TOKEN)
    if not caller.is_admin:
        raise Forbidden(ADMIN_ONLY)


def require_operator(caller: Caller) -> None:
    """An admin, or the shared caller of `none`/`bearer` modes (the same rule as the operator routes)."""
    if caller.is_restricted:
        raise Forbidden(RESTRICTED_TOKEN)
    if not caller.is_operator:
        raise Forbidden(ADMIN_ONLY)


def metrics_reach(caller: Caller) -> str | None:
    """Whose numbers an admin's metrics and gauges cover: their tenant, or (None) the whole deployment.

    Only server admins (admins of the default tenant in `tenant` mode, who run the server) see
    deployment-wide aggregates; a tenant's admin sees their own tenant's. In `user` mode there is one
    tenant, so both are the same.
    """
    return None if caller.is_server_admin else caller.tenant_id


def _decay_view(run: DecayRun) -> DecayRunView:
    return DecayRunView(
        last_run_at=iso(run.finished_at),
        runs=run.runs,
        started_at=iso(run.started_at),
        duration_ms=max(0, int((run.finished_at - run.started_at).total_seconds() * 1000)),
        demoted=run.demoted,
        promoted=run.promoted,
        effective_days=run.effective_days,
    )


def _run_view(view: type[_RunView], run: JobRun | None) -> _RunView | None:
    """A job's last run: the counts it recorded, when it finished and how many runs completed."""
    if run is None:
        return None
    return view.model_validate({**run.result, "lastRunAt": iso(run.last_run_at), "runs": run.runs})


class AdminService:
    """Read-only admin views (inventory, job status) and the bookkeeping of completed jobs."""

    def __init__(self, inventory: InventoryStore, runs: JobRunLog) -> None:
        self._inventory = inventory
        self._runs = runs

    async def list_projects(self, caller: Caller) -> AdminProjectList:
        """Every project of the admin's tenant with its owner, member and entry counts, newest first."""
        require_admin(caller)
        return AdminProjectList(
            projects=[
                AdminProjectView(
                    id=p.id,
                    name=p.name,
                    owner_user_id=p.owner_user_id,
                    owner_email=p.owner_email,
                    member_count=p.member_count,
                    entry_count=p.entry_count,
                    created_at=iso(p.created_at),
                )
                for p in await self._inventory.projects(caller.tenant_id)
            ]
        )

    async def list_tokens(self, caller: Caller) -> AdminTokenList:
        """Metadata of every API token of the admin's tenant (never a plaintext or hash), newest first."""
        require_admin(caller)
        return AdminTokenList(
            tokens=[
                AdminTokenView(
                    user_id=t.user_id,
                    email=t.email,
                    label=t.label,
                    scope=SCOPE_NAMES[t.scope],
                    project_id=t.project_id,
                    created_at=iso(t.created_at),
                    last_used_at=iso(t.last_used_at),
                    expires_at=iso(t.expires_at),
                    revoked=t.revoked_at is not None,
                )
                for t in await self._inventory.tokens(caller.tenant_id)
            ]
        )

    async def ops_status(self, caller: Caller) -> OpsStatus:
        """The last successful run of each periodic job (null until it has completed once)."""
        require_admin(caller)
        decay = await self._runs.last_decay()
        runs = await self._runs.last_runs()
        return OpsStatus(
            decay=_decay_view(decay) if decay else None,
            dream_cycle=_run_view(DreamCycleRunView, runs.get(JobName.DREAM_CYCLE)),
            orphan_reaper=_run_view(OrphanReapRunView, runs.get(JobName.ORPHAN_REAPER)),
            embedding_reconciler=_run_view(ReconcileRunView, runs.get(JobName.EMBEDDINGS_RECONCILE)),
            expiry_purge=_run_view(ExpiryPurgeRunView, runs.get(JobName.EXPIRY_PURGE)),
            change_feed_prune=_run_view(PruneRunView, runs.get(JobName.CHANGE_FEED_PRUNE)),
            sessions_prune=_run_view(PruneRunView, runs.get(JobName.SESSIONS_PRUNE)),
        )

    async def record_run(self, job: str, result: object) -> None:
        """Note that a job completed; a failed write is logged and never fails the job itself."""
        if isinstance(result, BaseModel):
            result = result.model_dump(by_alias=True)
        if isinstance(result, dict):
            detail: dict[str, Any] = {k: v for k, v in result.items() if isinstance(v, int | float | None)}
        elif isinstance(result, int) and job in _COUNT_KEY:
            detail = {_COUNT_KEY[JobName(job)]: result}
        else:
            detail = {}
        try:
            await self._runs.record(job, detail)
        except NovamemError as exc:
            log.warning("could not record the run of job %s: %s", job, exc.message)
