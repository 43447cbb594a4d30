"""Admin operations: the tenant's projects and tokens, and the status of the periodic jobs.

Every read here is confined to the admin's own tenant (the tenant is the hard wall); job status is
deployment work and holds no tenant data.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.errors import Forbidden, NovamemError
from novamem.storage.operations import DecayRun, InventoryStore, JobRun, JobRunLog

__all__ = ["AdminService", "JobName", "metrics_reach", "require_admin"]

log = logging.getLogger("novamem.admin")


class JobName(StrEnum):
    """The periodic jobs whose runs are recorded (decay keeps its own `decay_runs` table)."""

    EMBEDDINGS_RECONCILE = "embeddings-reconcile"
    EXPIRY_PURGE = "expiry-purge"
    CHANGE_FEED_PRUNE = "change-feed-prune"
    SESSIONS_PRUNE = "sessions-prune"
    ORPHAN_REAPER = "orphan-reaper"


# what a job's bare count means, on the wire
_COUNT_KEY = {
    JobName.EMBEDDINGS_RECONCILE: "embedded",
    JobName.EXPIRY_PURGE: "expired",
    JobName.CHANGE_FEED_PRUNE: "pruned",
    JobName.SESSIONS_PRUNE: "pruned",
}
# wire key of each job in `ops_status`
_STATUS_KEY = {
    JobName.ORPHAN_REAPER: "orphanReaper",
    JobName.EMBEDDINGS_RECONCILE: "embeddingReconciler",
    JobName.EXPIRY_PURGE: "expiryPurge",
    JobName.CHANGE_FEED_PRUNE: "changeFeedPrune",
    JobName.SESSIONS_PRUNE: "sessionsPrune",
}


def require_admin(caller: Caller) -> None:
    """An admin's session or unrestricted token (the same rule as the `/v1/admin/*` routes)."""
    if caller.is_restricted:
        raise Forbidden("restricted token")
    if not caller.is_admin:
        raise Forbidden("admin only")


def metrics_reach(caller: Caller) -> str | None:
    """Whose numbers an admin's metrics and gauges cover: their tenant, or (None) the whole deployment.

    Only server admins (admins of the default tenant in `tenant` mode, who run the server) see
    deployment-wide aggregates; a tenant's admin sees their own tenant's. In `user` mode there is one
    tenant, so both are the same.
    """
    return None if caller.is_server_admin else caller.tenant_id


def _decay_view(run: DecayRun) -> dict[str, Any]:
    return {
        "lastRunAt": iso(run.finished_at),
        "runs": run.runs,
        "startedAt": iso(run.started_at),
        "durationMs": max(0, int((run.finished_at - run.started_at).total_seconds() * 1000)),
        "demoted": run.demoted,
        "promoted": run.promoted,
        "effectiveDays": run.effective_days,
    }


def _run_view(run: JobRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {**run.result, "lastRunAt": iso(run.last_run_at), "runs": run.runs}


class AdminService:
    """Read-only admin views (inventory, job status) and the bookkeeping of completed jobs."""

    def __init__(self, inventory: InventoryStore, runs: JobRunLog) -> None:
        self._inventory = inventory
        self._runs = runs

    async def list_projects(self, caller: Caller) -> dict[str, Any]:
        """`{projects:[{id, name, ownerUserId, ownerEmail, memberCount, entryCount, createdAt}]}`, newest first."""
        require_admin(caller)
        return {
            "projects": [
                {
                    "id": p.id,
                    "name": p.name,
                    "ownerUserId": p.owner_user_id,
                    "ownerEmail": p.owner_email,
                    "memberCount": p.member_count,
                    "entryCount": p.entry_count,
                    "createdAt": iso(p.created_at),
                }
                for p in await self._inventory.projects(caller.tenant_id)
            ]
        }

    async def list_tokens(self, caller: Caller) -> dict[str, Any]:
        """`{tokens:[{userId, email, label, scope, projectId, createdAt, lastUsedAt, expiresAt, revoked}]}`."""
        require_admin(caller)
        return {
            "tokens": [
                {
                    "userId": t.user_id,
                    "email": t.email,
                    "label": t.label,
                    "scope": t.scope,
                    "projectId": t.project_id,
                    "createdAt": iso(t.created_at),
                    "lastUsedAt": iso(t.last_used_at),
                    "expiresAt": iso(t.expires_at),
                    "revoked": t.revoked_at is not None,
                }
                for t in await self._inventory.tokens(caller.tenant_id)
            ]
        }

    async def ops_status(self, caller: Caller) -> dict[str, Any]:
        """The last successful run of each periodic job (null until it has completed once)."""
        require_admin(caller)
        decay = await self._runs.last_decay()
        runs = await self._runs.last_runs()
        status: dict[str, Any] = {"decay": _decay_view(decay) if decay else None, "dreamCycle": None}
        for job, key in _STATUS_KEY.items():
            status[key] = _run_view(runs.get(job))
        return status

    async def record_run(self, job: str, result: object) -> None:
        """Note that a job completed; a failed write is logged and never fails the job itself."""
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
