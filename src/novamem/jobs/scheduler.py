"""Background jobs that run once per deployment: the leader (advisory lock holder) runs them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from novamem.container import Container
from novamem.errors import NovamemError
from novamem.services.memory.facts import FACTS_DRAIN_INTERVAL_S
from novamem.services.operations.admin import JobName
from novamem.services.operations.dream import DREAM_INTERVAL_S

__all__ = ["Job", "Leadership", "Scheduler", "build_scheduler"]

log = logging.getLogger("novamem.jobs")


class Leadership(Protocol):
    """What the scheduler needs of the deployment-wide leader lock (the container's `leader_lock` fits)."""

    async def acquire(self) -> bool:
        """True while this replica is the leader (taken now or held from before)."""
        ...

    async def release(self) -> None:
        """Give leadership up, so another replica may take it."""
        ...


@dataclass(frozen=True, slots=True)
class Job:
    """One periodic job: its name (a `JobName`), how often it runs, and the service call it makes."""

    name: str
    interval_s: float
    run: Callable[[], Awaitable[object]]


class Scheduler:
    """Runs each job on its interval while this replica is the leader; a failing job is logged only.

    `on_success(name, result)` is awaited after each run that completes (the job-status record).
    """

    def __init__(
        self,
        lock: Leadership,
        jobs: list[Job],
        *,
        poll_s: float = 5.0,
        on_success: Callable[[str, object], Awaitable[None]] | None = None,
    ) -> None:
        self._lock = lock
        self._on_success = on_success
        self._jobs = [j for j in jobs if j.interval_s > 0]
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self.last_error: dict[str, str] = {}

    @property
    def jobs(self) -> list[Job]:
        """The periodic jobs this scheduler runs (those with a positive interval)."""
        return list(self._jobs)

    def start(self) -> None:
        if self._jobs and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="novamem-scheduler")

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        due = {job.name: 0.0 for job in self._jobs}
        while True:
            try:
                leader = await self._lock.acquire()
            except NovamemError as exc:
                log.warning("leader lock unavailable: %s", exc)
                leader = False
            if leader:
                for job in self._jobs:
                    if loop.time() >= due[job.name]:
                        await self._run(job)
                        due[job.name] = loop.time() + job.interval_s
            await asyncio.sleep(min([self._poll_s, *(j.interval_s for j in self._jobs)]))

    async def _run(self, job: Job) -> None:
        try:
            result = await job.run()
            self.last_error.pop(job.name, None)
            if self._on_success is not None:
                await self._on_success(job.name, result)
        except NovamemError as exc:
            self.last_error[job.name] = exc.message
            log.warning("job %s failed: %s", job.name, exc.message)
        except Exception as exc:  # keep the scheduler alive; record and log the failure with its trace
            self.last_error[job.name] = type(exc).__name__
            log.exception("job %s crashed", job.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._lock.release()


EXPIRY_PURGE_INTERVAL_S = 3600.0
CHANGE_FEED_PRUNE_INTERVAL_S = 3600.0
SESSIONS_PRUNE_INTERVAL_S = 3600.0  # expired dashboard sessions
OBSERVER_INTERVAL_S = 900.0  # logs with enough new memories are observed within a quarter of an hour


def build_scheduler(container: Container) -> Scheduler:
    """The deployment's periodic jobs, or none when this replica is told not to run jobs."""
    settings = container.settings
    jobs = [
        Job(
            JobName.EMBEDDINGS_RECONCILE,
            settings.embeddings_reconcile_interval_ms / 1000,
            container.reconciler.run_once,
        ),
        Job(JobName.DECAY, settings.decay_interval_ms / 1000, container.operator.run_decay),
        Job(JobName.EXPIRY_PURGE, EXPIRY_PURGE_INTERVAL_S, container.reconciler.purge_expired),
        Job(JobName.CHANGE_FEED_PRUNE, CHANGE_FEED_PRUNE_INTERVAL_S, container.selfservice.prune_changes),
        Job(JobName.SESSIONS_PRUNE, SESSIONS_PRUNE_INTERVAL_S, container.sessions.prune_sessions),
        Job(JobName.DREAM_CYCLE, DREAM_INTERVAL_S, container.dream.run_pass),
    ]
    if container.facts is not None:  # LLM fact extraction, when enabled: start a drain of the due debts
        jobs.append(Job(JobName.FACT_EXTRACTION, FACTS_DRAIN_INTERVAL_S, container.facts.run_pass))
    if container.observer is not None:
        jobs.append(Job(JobName.OBSERVER, OBSERVER_INTERVAL_S, container.observer.run_scheduled))
    return Scheduler(
        container.leader_lock, jobs if settings.jobs_enabled else [], on_success=container.admin.record_run
    )
