"""MetricsService without a database: in-process counting, admin gates, and the Prometheus rendering."""

from __future__ import annotations

import pytest

from novamem.domain.scope import Caller, Credential, TokenScope
from novamem.errors import Forbidden, InvalidInput, Unavailable
from novamem.services.operations.admin import metrics_reach
from novamem.services.operations.metrics import Counter, MetricsService
from novamem.services.operations.models import AdminStats, MetricsSnapshot

ADMIN = Caller(tenant_id="t1", user_id="u1", is_admin=True, credential=Credential.TOKEN)
SERVER_ADMIN = Caller(
    tenant_id="default", user_id="root", is_admin=True, is_server_admin=True, credential=Credential.TOKEN
)


@pytest.mark.parametrize(
    ("caller", "message"),
    [
        (Caller(tenant_id="t1", user_id="u2", credential=Credential.TOKEN), "admin only"),
        (Caller.public(), "admin only"),
        (
            Caller(
                tenant_id="t1",
                user_id="u1",
                is_admin=True,
                token_scope=TokenScope.READ_ONLY,
                credential=Credential.TOKEN,
            ),
            "restricted token",
        ),
        (
            Caller(tenant_id="t1", user_id="u1", is_admin=True, confined_project="p", credential=Credential.TOKEN),
            "restricted token",
        ),
    ],
)
async def test_snapshots_are_for_admins_only(caller: Caller, message: str) -> None:
    metrics = MetricsService(None)
    for read in (metrics.snapshot, metrics.stats, metrics.prometheus):
        with pytest.raises(Forbidden) as refused:
            await read(caller)
        assert refused.value.message == message


async def test_counts_are_kept_per_tenant_and_read_back_unflushed() -> None:
    metrics = MetricsService(None)
    metrics.count("t1", Counter.QUERIES, 2)
    metrics.count("t2", Counter.QUERIES, 5)
    metrics.count("*", Counter.DECAY_RUNS)
    metrics.count("t1", Counter.FORGETS, 0)  # nothing to count
    tenant = (await metrics.snapshot(ADMIN)).to_wire()
    MetricsSnapshot.model_validate(tenant)
    assert tenant["counters"]["queries_total"] == 2 and tenant["counters"]["decay_runs_total"] == 1
    assert tenant["counters"]["forgets_total"] == 0
    assert tenant["rates"]["queries_per_sec_60s"] > 0
    deployment = (await metrics.snapshot(SERVER_ADMIN)).to_wire()
    assert deployment["counters"]["queries_total"] == 7
    assert metrics_reach(ADMIN) == "t1" and metrics_reach(SERVER_ADMIN) is None
    stats = (await metrics.stats(ADMIN)).to_wire()
    AdminStats.model_validate(stats)
    assert stats["instance"]["replica_id"] == metrics.replica_id


async def test_only_server_side_failures_count_as_errors() -> None:
    metrics = MetricsService(None)
    for error in (InvalidInput(), Forbidden("admin only"), Unavailable("database unavailable"), RuntimeError("x")):
        with pytest.raises(type(error)), metrics.failures("t1", Counter.SEARCH_ERRORS):
            raise error
    assert (await metrics.snapshot(ADMIN)).counters.search_errors_total == 2


async def test_unknown_gauges_render_as_nan() -> None:
    text = await MetricsService(None).prometheus(ADMIN)
    assert "novamem_warm_entries NaN\n" in text and "novamem_pending_embeddings NaN\n" in text
    assert "novamem_orphans_pending 0\n" in text and "novamem_queries_total 0\n" in text
    assert text.endswith("\n")
