"""Background jobs that run once per deployment: the leader (advisory lock holder) runs them.

Short jobs (a purge, a prune, a reconciler batch) run one after another on the scheduler's own loop. Long
lifecycle passes (decay, the dream cycle, the observer pass) are `long_running`: each runs on a task of its
own, so a first decay pass over a big store that takes minutes never holds up the short jobs. A long job's
ticks keep their cadence from the start of its run; a tick that finds the previous run still going is
skipped, never stacked (reference §7.1). Leadership is checked every poll: when it is lost, and when the
scheduler stops, every long run still going is cancelled and awaited, so a pass never goes on after another
replica may have started its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
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
    """One periodic job: its name (a `JobName`), how often it runs, and the service call it makes.

    `long_running` jobs run on a task of their own (they may take minutes and must not hold up the others);
    the rest run in turn on the scheduler's loop.
    """

    name: str
    interval_s: float
    run: Callable[[], Awaitable[object]]
    long_running: bool = False


class Scheduler:
    """Runs each job on its interval while this replica is the leader; a failing job is logged only.

    `on_success(name, result)` is awaited after each run that completes (the job-status record).
    `skipped_ticks` counts, per long job, the ticks skipped because its previous run was still going.
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
        self._running: dict[str, asyncio.Task[None]] = {}  # long jobs' runs still going, by job name
        self._due: dict[str, float] = {}
        self.last_error: dict[str, str] = {}
        self.skipped_ticks: dict[str, int] = {}

    @property
    def jobs(self) -> list[Job]:
        """The periodic jobs this scheduler runs (those with a positive interval)."""
        return list(self._jobs)

    def start(self) -> None:
        """Start the scheduler's loop (once; nothing to do without jobs)."""
        if self._jobs and self._task is None:
            self._due = {job.name: 0.0 for job in self._jobs}
            self._task = asyncio.create_task(self._loop(), name="novamem-scheduler")

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if await self._is_leader():
                    for job in self._jobs:
                        if loop.time() < self._due[job.name]:
                            continue
                        if job.long_running:
                            self._tick_long(job, loop.time())
                        else:
                            await self._run(job)
                            self._due[job.name] = loop.time() + job.interval_s
                else:
                    await self._cancel_long_runs("leadership lost")
                await asyncio.sleep(min([self._poll_s, *(j.interval_s for j in self._jobs)]))
        finally:
            await self._cancel_long_runs("scheduler stopped")

    async def _is_leader(self) -> bool:
        try:
            return await self._lock.acquire()
        except NovamemError as exc:
            log.warning("leader lock unavailable: %s", exc.message)
            return False

    def _tick_long(self, job: Job, now: float) -> None:
        """Start a long job's run on its own task, or skip this tick while the previous run is still going;
        either way the next tick is the first one of its cadence after now."""
        due = self._due[job.name]
        after = due + job.interval_s if due else now + job.interval_s
        if after <= now:  # ticks passed while the run was going: they are skipped, not owed
            after += (math.floor((now - after) / job.interval_s) + 1) * job.interval_s
        self._due[job.name] = after
        running = self._running.get(job.name)
        if running is not None and not running.done():
            self.skipped_ticks[job.name] = self.skipped_ticks.get(job.name, 0) + 1
            log.warning("job %s still running: tick skipped", job.name)
            return
        task = asyncio.create_task(self._run(job), name=f"novamem-job-{job.name}")
        self._running[job.name] = task
        task.add_done_callback(partial(self._forget, job.name))

    def _forget(self, name: str, task: asyncio.Task[None]) -> None:
        if self._running.get(name) is task:
            del self._running[name]

    async def _cancel_long_runs(self, why: str) -> None:
        """Cancel every long run still going and wait for it; a cancelled run is due again at once when this
        replica leads again (it did not complete)."""
        running = [(name, task) for name, task in self._running.items() if not task.done()]
        for name, task in running:
            log.warning("job %s cancelled: %s", name, why)
            task.cancel()
            self._due[name] = 0.0
        if running:
            await asyncio.gather(*(task for _, task in running), return_exceptions=True)

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
        """Stop the loop, cancel and await the long runs still going, and give leadership up."""
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
            container.reconciler.catch_up,
        ),
        Job(JobName.DECAY, settings.decay_interval_ms / 1000, container.operator.run_decay, long_running=True),
        Job(JobName.EXPIRY_PURGE, EXPIRY_PURGE_INTERVAL_S, container.reconciler.purge_expired),
        Job(JobName.CHANGE_FEED_PRUNE, CHANGE_FEED_PRUNE_INTERVAL_S, container.selfservice.prune_changes),
        Job(JobName.SESSIONS_PRUNE, SESSIONS_PRUNE_INTERVAL_S, container.sessions.prune_sessions),
        Job(JobName.DREAM_CYCLE, DREAM_INTERVAL_S, container.dream.run_pass, long_running=True),
    ]
    if container.facts is not None:  # LLM fact extraction, when enabled: start a drain of the due debts
        jobs.append(Job(JobName.FACT_EXTRACTION, FACTS_DRAIN_INTERVAL_S, container.facts.run_pass))
    if container.observer is not None:
        jobs.append(Job(JobName.OBSERVER, OBSERVER_INTERVAL_S, container.observer.run_scheduled, long_running=True))
    return Scheduler(
        container.leader_lock, jobs if settings.jobs_enabled else [], on_success=container.admin.record_run
    )
