"""LLM fact extraction over real HTTP: a server with extraction on, its chat model served locally
(tests/fake_models.py). Writes answer at once; facts appear in search shortly after, follow an update and
go with a forget; a model that is down never fails a write or a search.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server, wait_for
from tests.fake_models import FakeModelServer
from tests.http.test_writes import remember

DUBAI = "Caroline moved to Dubai in March 2026 and works as a nurse at the city hospital"
BELGIUM = "Caroline moved to Belgium in March 2026 and works as a nurse at the city hospital"
TIMEOUT_MS = 600


def facts_answer(place: str) -> str:
    return json.dumps(
        [{"type": "fact", "subject": "Caroline", "predicate": "lives in", "object": place, "occurredAt": "2026-03-01"}]
    )


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str], models: FakeModelServer) -> Iterator[RunningServer]:
    running = start_server(
        make_database(),
        jobs_enabled=False,
        extraction_enabled=True,
        extraction_endpoint=models.chat_url,
        extraction_model="qwen-test",
        extraction_timeout_ms=TIMEOUT_MS,
    )
    yield running
    models.reset()
    running.stop()


@pytest.fixture
def api(srv: RunningServer, models: FakeModelServer) -> Iterator[httpx.Client]:
    srv.sql("TRUNCATE memory_entries CASCADE")
    models.reset()
    with srv.client() as client:
        yield client
    models.reset()


def fact_texts(api: httpx.Client) -> list[str]:
    r = api.post("/v1/search", json={"query": "Caroline lives in", "weights": {"vector": 0}})
    assert r.status_code == 200, r.text
    return sorted(item["content"] for item in r.json()["results"] if item["content"].startswith("[fact]"))


def test_facts_follow_their_source_over_http(api: httpx.Client, models: FakeModelServer) -> None:
    models.chat_script = [facts_answer("Dubai"), facts_answer("Belgium")]
    source = remember(api, DUBAI, sourceRefs=["chat:42"])["id"]
    assert wait_for(lambda: fact_texts(api) == ["[fact] Caroline lives in Dubai (2026-03-01)"], timeout=20)
    r = api.put(f"/v1/memories/{source}", json={"content": BELGIUM})
    assert r.status_code == 200, r.text
    assert "[fact] Caroline lives in Dubai (2026-03-01)" not in fact_texts(api)  # gone with the update
    assert wait_for(lambda: fact_texts(api) == ["[fact] Caroline lives in Belgium (2026-03-01)"], timeout=20)
    r = api.post("/v1/forget", json={"sourceRef": "chat:42"})
    assert r.status_code == 200 and r.json()["count"] == 1
    assert fact_texts(api) == []


def test_a_slow_answer_overtaken_by_an_update_never_lands(api: httpx.Client, models: FakeModelServer) -> None:
    models.chat_hold = threading.Event()
    models.chat_script = [facts_answer("Dubai"), facts_answer("Belgium")]
    source = remember(api, DUBAI)["id"]
    assert models.chat_arrived.wait(10)
    assert api.put(f"/v1/memories/{source}", json={"content": BELGIUM}).status_code == 200
    models.chat_hold.set()
    assert wait_for(lambda: fact_texts(api) == ["[fact] Caroline lives in Belgium (2026-03-01)"], timeout=20)
    time.sleep(0.5)  # nothing else is in flight that could still land
    assert fact_texts(api) == ["[fact] Caroline lives in Belgium (2026-03-01)"]


@pytest.mark.parametrize("fault", ["down", "never-ends"])
def test_a_broken_model_never_fails_a_write_or_a_search(
    api: httpx.Client, srv: RunningServer, models: FakeModelServer, fault: str
) -> None:
    models.chat_fault = fault
    started = time.monotonic()
    source = remember(api, DUBAI)["id"]
    assert time.monotonic() - started < TIMEOUT_MS / 1000
    r = api.post("/v1/search", json={"query": "Caroline Dubai nurse", "weights": {"vector": 0}})
    assert r.status_code == 200 and [item["id"] for item in r.json()["results"]] == [source]
    assert wait_for(lambda: srv.sql("SELECT facts_attempts FROM memory_entries WHERE id = %s", (source,)) == [(1,)])
    assert srv.sql("SELECT facts_pending_at IS NOT NULL FROM memory_entries WHERE id = %s", (source,)) == [(True,)]
