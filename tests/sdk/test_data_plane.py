"""The SDK's data plane against a real user-mode server: every operation round-trips, results are typed,
and the server's refusals map onto the error tree (400/401/403 never retryable, 404 not found)."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from novamem_client import (
    AsyncNovamemClient,
    ContextResult,
    MemoryItem,
    NovamemBadRequest,
    NovamemClient,
    NovamemForbidden,
    NovamemNotFound,
    NovamemUnauthorized,
    SearchResults,
    WriteResult,
)

from tests.conftest import RunningServer

from .conftest import Accounts


@pytest.fixture
def client(sdk_server: RunningServer, accounts: Accounts) -> NovamemClient:
    return NovamemClient(sdk_server.base_url, token=accounts.user)


def _word() -> str:
    return f"zq{secrets.token_hex(4)}"


def test_health_answers_ok(client: NovamemClient) -> None:
    assert client.health().ok is True


def test_remember_search_update_forget_round_trip(client: NovamemClient) -> None:
    marker = _word()
    stored = client.remember(
        f"The deployment runbook {marker} lives in the ops wiki under release checklists",
        namespace="sdk-tests",
        source="sdk",
        metadata={"topic": "runbook"},
        source_refs=[f"doc:{marker}"],
    )
    assert isinstance(stored, WriteResult) and stored.id and stored.rejected is None
    again = client.remember(
        f"The deployment runbook {marker} lives in the ops wiki under release checklists", namespace="sdk-tests"
    )
    assert again.id == stored.id and again.deduplicated is True

    found = client.search(marker, k=5, namespace="sdk-tests")
    assert isinstance(found, SearchResults) and found.degraded is False
    hit = next(r for r in found.results if r.id == stored.id)
    assert isinstance(hit, MemoryItem) and (hit.metadata or {})["topic"] == "runbook" and hit.namespace == "sdk-tests"
    assert hit.signals is not None and hit.tier == "warm"
    ids_only = client.search(marker, namespace="sdk-tests", content_mode="ids")
    assert ids_only.results and ids_only.results[0].content is None

    updated = client.update_memory(stored.id, content=f"The deployment runbook {marker} moved to the handbook")
    assert updated.id == stored.id and updated.updated is True

    assert stored.id in [r.id for r in client.recent(namespace="sdk-tests").results]
    assert stored.id in [r.id for r in client.today(namespace="sdk-tests").results]
    assert client.neighbors(stored.id, depth=2).degraded is False

    gone = client.forget(stored.id)
    assert gone.deleted is True and gone.cold_delete_ok is True
    assert client.forget(stored.id).deleted is False  # idempotent, never an error
    assert client.search(marker, namespace="sdk-tests").results == []


def test_capture_recap_and_forget_by_source(client: NovamemClient) -> None:
    marker = _word()
    first = client.capture(f"The billing service {marker} retries webhooks three times", source_refs=[f"pr:{marker}"])
    assert first.id is not None
    recap = client.session_recap(
        decisions=[f"We keep the billing {marker} retries at three attempts"],
        preferences=[f"The user prefers {marker} summaries as bullet points"],
    )
    assert recap.saved == 2 and len(recap.results) == 2
    forgotten = client.forget_by_source(f"pr:{marker}")
    assert forgotten.source_ref == f"pr:{marker}" and forgotten.ids == [first.id] and forgotten.count == 1
    assert client.forget_by_source(f"pr:{_word()}").count == 0


def test_context_stats_and_diagnostics(client: NovamemClient) -> None:
    marker = _word()
    client.remember(f"The user prefers {marker} tea over coffee in the morning", namespace="user")
    ctx = client.context(f"what does the user drink {marker}?")
    assert isinstance(ctx, ContextResult) and ctx.guidance
    assert any(marker in (r.content or "") for r in ctx.relevant.results)
    assert isinstance(ctx.context_pack.all, list)
    stats = client.stats()
    assert stats.total_warm >= 1 and stats.by_namespace["user"].warm >= 1
    assert client.hygiene(k=5).summary.scanned >= 1
    evaluation = client.evaluate()
    assert evaluation.suite == "core" and evaluation.summary.total == len(evaluation.cases)
    report = client.adoption(client="sdk-test")
    assert report.requested_client == "sdk-test" and "memory_search" in report.required_tools
    with pytest.raises(NovamemNotFound, match="observer disabled"):
        client.context_prefix()


def test_refusals_map_onto_the_error_tree(sdk_server: RunningServer, accounts: Accounts) -> None:
    client = NovamemClient(sdk_server.base_url, token=accounts.user)
    with pytest.raises(NovamemBadRequest) as bad:
        client.search("")
    assert bad.value.error == "invalid request body" and not bad.value.retryable
    assert bad.value.issues and bad.value.issues[0]["path"] == "query"
    with pytest.raises(NovamemNotFound, match="no such memory in your scope") as missing:
        client.update_memory("01JZZZZZZZZZZZZZZZZZZZZZZZ", content="nothing here")
    assert not missing.value.retryable
    with pytest.raises(NovamemUnauthorized) as unknown:
        NovamemClient(sdk_server.base_url, token="nm_" + "0" * 40).stats()
    assert unknown.value.error == "unauthorized" and not unknown.value.retryable
    with pytest.raises(NovamemUnauthorized):
        NovamemClient(sdk_server.base_url).search("anything")
    with pytest.raises(NovamemForbidden, match="read-only token") as read_only:
        NovamemClient(sdk_server.base_url, token=accounts.reader).remember("A reader cannot store this fact at all")
    assert not read_only.value.retryable and read_only.value.status == 403
    with pytest.raises(NovamemForbidden, match="admin only"):
        client.admin.list_users()


def test_the_async_client_round_trips(sdk_server: RunningServer, accounts: Accounts) -> None:
    marker = _word()

    async def scenario() -> None:
        client = AsyncNovamemClient(sdk_server.base_url, token=accounts.user)
        stored = await client.capture(f"The async worker pool {marker} runs eight workers per node")
        assert stored.id is not None
        found, recent = await asyncio.gather(client.search(marker), client.recent(k=5))
        assert [r.id for r in found.results] == [stored.id]
        assert stored.id in [r.id for r in recent.results]
        assert (await client.management.usage()).entries >= 1
        assert (await client.forget(stored.id)).deleted is True
        with pytest.raises(NovamemBadRequest):
            await client.search("")

    asyncio.run(scenario())
