"""The job scheduler against the real embedded PostgreSQL: long lifecycle passes on tasks of their own.

A decay pass is made slow the way a big store makes it slow in production: by the database. The test holds
`LOCK TABLE decay_runs IN EXCLUSIVE MODE` in a transaction of its own, so the real pass (demote, purge,
then its `decay_runs` row) waits on the real table until the test commits. Leadership is taken away the way
another replica takes it: the leader's lock connection is terminated and a rival session holds the
advisory lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import psycopg
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.jobs.scheduler import Job, Scheduler, build_scheduler
from novamem.services.operations.admin import JobName

LEADER_LOCK = 7_778_002  # the jobs' advisory lock key (storage/postgres/leader.py)
DECAY_EVERY_S = 0.3
PRUNE_EVERY_S = 0.1
THIS_DB = " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
# sessions of this database waiting on a lock while writing the decay pass's `decay_runs` row
WAITING_DECAY = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    " AND query LIKE '%%INSERT INTO decay_runs%%' AND pid <> pg_backend_pid()"
)


class Passes:
    """Counts a job's runs: started, in flight (and the most at once), cancelled; wraps the real call."""

    def __init__(self) -> None:
        self.started = 0
        self.in_flight = 0
        self.most = 0
        self.cancelled = 0

    def counting(self, run: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        async def counted() -> object:
            self.started += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            try:
                return await run()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            finally:
                self.in_flight -= 1

        return counted


class Runs:
    """The scheduler's `on_success` record: each completed run's job name."""

    def __init__(self) -> None:
        self.done: list[str] = []

    async def record(self, name: str, result: object) -> None:
        self.done.append(name)

    def count(self, name: str) -> int:
        return self.done.count(name)


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> bool:
    """Poll `predicate` (without blocking the event loop) until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
async def container(make_database: Callable[[], str]) -> AsyncIterator[Container]:
    settings = load_settings(
        database_url=make_database(), jobs_enabled=True, auth_mode="none", embeddings_provider="none"
    )
    built = await Container.build(settings)
    yield built
    await built.close()


def url_of(container: Container) -> str:
    url = container.settings.database_url
    assert url is not None
    return url.get_secret_value()


async def scalar(conn: psycopg.AsyncConnection[tuple[object, ...]], query: str, *params: object) -> object:
    row = await (await conn.execute(query, params or None)).fetchone()
    assert row is not None
    return row[0]


def decay_and_prune(container: Container, passes: Passes) -> list[Job]:
    """The deployment's own decay and change-feed prune jobs, on short intervals; decay's runs counted."""
    jobs = {job.name: job for job in build_scheduler(container).jobs}
    decay, prune = jobs[JobName.DECAY], jobs[JobName.CHANGE_FEED_PRUNE]
    assert decay.long_running and jobs[JobName.DREAM_CYCLE].long_running and not prune.long_running
    return [
        replace(decay, interval_s=DECAY_EVERY_S, run=passes.counting(decay.run)),
        replace(prune, interval_s=PRUNE_EVERY_S),
    ]


async def test_a_slow_decay_pass_never_holds_up_other_jobs_and_its_overrunning_ticks_are_skipped(
    container: Container,
) -> None:
    url = url_of(container)
    passes, runs = Passes(), Runs()
    scheduler = Scheduler(
        container.leader_lock, decay_and_prune(container, passes), poll_s=0.05, on_success=runs.record
    )
    async with (
        await psycopg.AsyncConnection.connect(url) as blocker,
        await psycopg.AsyncConnection.connect(url, autocommit=True) as watch,
    ):
        await blocker.execute("LOCK TABLE decay_runs IN EXCLUSIVE MODE")
        scheduler.start()
        try:
            assert await until(lambda: _is(scalar(watch, WAITING_DECAY), 1))
            await asyncio.sleep(2.0)
            # the pass is still waiting, alone: six or so of its ticks came and were skipped, not stacked
            assert passes.started == 1 and passes.in_flight == 1 and runs.count(JobName.DECAY) == 0
            assert await scalar(watch, WAITING_DECAY) == 1
            assert scheduler.skipped_ticks[JobName.DECAY] >= 3
            # the short job kept its own cadence all along (20 runs on an idle machine)
            assert runs.count(JobName.CHANGE_FEED_PRUNE) >= 8

            await blocker.commit()  # the slow dependency answers: the pass completes
            assert await until(lambda: _true(runs.count(JobName.DECAY) >= 1))
            await asyncio.sleep(1.0)
        finally:
            await scheduler.stop()
    assert passes.most == 1 and passes.cancelled == 0
    # no skipped tick was run late: at most one run per tick after the release (1 s / 0.3 s), plus the slow one
    assert runs.count(JobName.DECAY) <= 1 + 4
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await scalar(conn, "SELECT count(*) FROM decay_runs") == runs.count(JobName.DECAY)


async def test_losing_leadership_or_stopping_cancels_a_long_pass_and_stops_every_job(container: Container) -> None:
    url = url_of(container)
    passes, runs = Passes(), Runs()
    scheduler = Scheduler(
        container.leader_lock, decay_and_prune(container, passes), poll_s=0.05, on_success=runs.record
    )
    async with (
        await psycopg.AsyncConnection.connect(url) as blocker,
        await psycopg.AsyncConnection.connect(url, autocommit=True) as rival,
    ):
        await blocker.execute("LOCK TABLE decay_runs IN EXCLUSIVE MODE")
        scheduler.start()
        try:
            assert await until(lambda: _is(scalar(rival, WAITING_DECAY), 1))
            # another replica takes the lead: ours loses its lock connection and finds the lock taken
            await rival.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s" + THIS_DB,
                (LEADER_LOCK,),
            )
            await rival.execute("SELECT pg_advisory_lock(%s)", (LEADER_LOCK,))
            assert await until(lambda: _true(passes.cancelled == 1))
            assert passes.in_flight == 0
            assert await until(lambda: _is(scalar(rival, WAITING_DECAY), 0))  # cancelled in the server too
            pruned = runs.count(JobName.CHANGE_FEED_PRUNE)
            await asyncio.sleep(0.5)
            assert runs.count(JobName.CHANGE_FEED_PRUNE) == pruned  # a follower runs nothing

            # leadership back: the cancelled pass is owed and starts at once; then the app shuts down
            await rival.execute("SELECT pg_advisory_unlock(%s)", (LEADER_LOCK,))
            assert await until(lambda: _true(passes.started == 2 and passes.in_flight == 1))
            assert await until(lambda: _is(scalar(rival, WAITING_DECAY), 1))
        finally:
            began = time.monotonic()
            await scheduler.stop()
            stopped_in = time.monotonic() - began
        assert stopped_in < 5.0 and passes.cancelled == 2 and passes.in_flight == 0
        assert await until(lambda: _is(scalar(rival, WAITING_DECAY), 0))
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted" + THIS_DB
        assert await until(lambda: _is(scalar(rival, held, LEADER_LOCK), 0))  # leadership given up
        await blocker.rollback()
    assert runs.count(JobName.DECAY) == 0


async def test_a_crashing_long_job_is_logged_and_the_scheduler_runs_on(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    passes, runs = Passes(), Runs()

    async def crash() -> object:
        raise RuntimeError("pass failed")

    jobs = [
        Job("crashing", 0.1, passes.counting(crash), long_running=True),
        Job(JobName.CHANGE_FEED_PRUNE, 0.1, container.selfservice.prune_changes),
    ]
    scheduler = Scheduler(container.leader_lock, jobs, poll_s=0.05, on_success=runs.record)
    scheduler.start()
    try:
        assert await until(lambda: _true(passes.started >= 3 and runs.count(JobName.CHANGE_FEED_PRUNE) >= 3))
    finally:
        await scheduler.stop()
    assert scheduler.last_error["crashing"] == "RuntimeError" and runs.count("crashing") == 0
    assert "job crashing crashed" in caplog.text


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def _true(value: bool) -> bool:
    return value
