"""Cross-encoder reranking and query decomposition over real HTTP, with remote models served locally.

Only the remote models are stand-ins (tests/fake_models.py); the server, its database and its embedder
are real. A reranker or decomposition model that is down, slow or answers garbage never turns a search
into an error: the fused order (or the question alone) answers, `degraded: true` when it found something.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.fake_models import FakeModelServer
from tests.http.test_writes import remember

API_KEY = "rk-test-secret-5f1c2a9d"
TIMEOUT_MS = 400
WORKSHOP = "The quartz lantern in the workshop glows amber at dusk"
WICK = "The quartz lantern needs a new wick every spring"
ATTIC = "Grandma's old lantern hangs in the attic by the window"
DOG = "Caroline adopted a rescue greyhound named Biscuit last spring"
KAYAK = "Melanie bought a red kayak for the summer lake trips"
KEYWORDS_ONLY = {"vector": 0}


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def cohere(make_database: Callable[[], str], models: FakeModelServer) -> Iterator[RunningServer]:
    """A server with a Cohere-shaped reranker and a decomposition model."""
    running = start_server(
        make_database(),
        jobs_enabled=False,
        rerank_enabled=True,
        rerank_endpoint=models.rerank_url,
        rerank_model="bge-reranker-v2-m3",
        rerank_api_key=API_KEY,
        rerank_timeout_ms=TIMEOUT_MS,
        query_decomp_enabled=True,
        query_decomp_endpoint=models.chat_url,
        query_decomp_model="qwen-test",
        query_decomp_max_subqueries=2,
        query_decomp_timeout_ms=TIMEOUT_MS,
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tei(make_database: Callable[[], str], models: FakeModelServer) -> Iterator[RunningServer]:
    """A server with a TEI-shaped reranker and no decomposition."""
    running = start_server(
        make_database(),
        jobs_enabled=False,
        rerank_enabled=True,
        rerank_endpoint=models.rerank_url,
        rerank_format="tei",
        rerank_timeout_ms=TIMEOUT_MS,
    )
    yield running
    running.stop()


def _client(server: RunningServer, models: FakeModelServer) -> Iterator[httpx.Client]:
    server.sql("TRUNCATE memory_entries CASCADE")
    models.reset()
    with server.client() as client:
        yield client


@pytest.fixture
def api(cohere: RunningServer, models: FakeModelServer) -> Iterator[httpx.Client]:
    yield from _client(cohere, models)


@pytest.fixture
def tei_api(tei: RunningServer, models: FakeModelServer) -> Iterator[httpx.Client]:
    yield from _client(tei, models)


def _search(api: httpx.Client, query: str, **fields: Any) -> dict[str, Any]:
    r = api.post("/v1/search", json={"query": query, **fields})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["results"]]


def _lanterns(api: httpx.Client) -> dict[str, str]:
    return {
        name: str(remember(api, text)["id"])
        for name, text in (("workshop", WORKSHOP), ("wick", WICK), ("attic", ATTIC))
    }


# ---- reranking ------------------------------------------------------------------------------------------


def test_reranker_reorders_the_fused_results(api: httpx.Client, models: FakeModelServer) -> None:
    ids = _lanterns(api)
    fused = _search(api, "quartz lantern", rerank=False)
    assert _ids(fused)[-1] == ids["attic"] and not models.rerank_requests  # opted out: never asked
    models.favourite = "attic"
    body = _search(api, "quartz lantern")
    assert body["degraded"] is False
    assert _ids(body)[0] == ids["attic"]
    top = body["results"][0]
    assert top["score"] == pytest.approx(0.9, abs=0.01) and top["signals"]["rerank"] == top["score"]
    sent = models.rerank_requests[-1]
    assert sent["model"] == "bge-reranker-v2-m3" and sent["query"] == "quartz lantern"
    assert sorted(sent["documents"]) == sorted([WORKSHOP, WICK, ATTIC]) and sent["top_n"] == 3
    assert models.headers[-1]["authorization"] == f"Bearer {API_KEY}"


def test_reranker_pool_is_k_times_the_multiplier(api: httpx.Client, models: FakeModelServer) -> None:
    for i in range(12):
        remember(api, f"Lantern number {i} of the collection is made of brass and glass panel {i * 7}")
    _search(api, "brass lantern collection", k=2)
    assert len(models.rerank_requests[-1]["documents"]) == 8  # k 2 × NOVAMEM_RERANK_POOL_MULTIPLIER 4


def test_context_is_reranked_too(api: httpx.Client, models: FakeModelServer) -> None:
    ids = _lanterns(api)
    models.favourite = "attic"
    r = api.post("/v1/context", json={"message": "quartz lantern"})
    assert r.status_code == 200, r.text
    assert r.json()["relevant"]["results"][0]["id"] == ids["attic"]


def test_tei_shape_reranks(tei_api: httpx.Client, models: FakeModelServer) -> None:
    ids = _lanterns(tei_api)
    models.favourite = "attic"
    body = _search(tei_api, "quartz lantern")
    assert _ids(body)[0] == ids["attic"] and body["degraded"] is False
    sent = models.rerank_requests[-1]
    assert set(sent) >= {"query", "texts"} and "documents" not in sent and "model" not in sent
    assert "authorization" not in models.headers[-1]


def test_a_failed_rerank_is_logged_without_the_key(
    api: httpx.Client, models: FakeModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    _lanterns(api)
    models.rerank_fault = "down"
    with caplog.at_level(logging.WARNING, logger="novamem.rerank"):
        assert _search(api, "quartz lantern")["degraded"] is True
    assert "reranker failed (reranker answered 503)" in caplog.text
    assert API_KEY not in caplog.text and models.rerank_url not in caplog.text


@pytest.mark.parametrize(
    "fault", ["down", "slow", "not-json", "wrong-length", "nan", "out-of-range", "repeated", "empty"]
)
def test_a_failing_reranker_leaves_the_fused_order(api: httpx.Client, models: FakeModelServer, fault: str) -> None:
    _lanterns(api)
    fused = _ids(_search(api, "quartz lantern", rerank=False))
    models.favourite, models.rerank_fault = "attic", fault
    started = time.monotonic()
    body = _search(api, "quartz lantern")
    assert time.monotonic() - started < TIMEOUT_MS / 1000 + 1.5  # the timeout bounds it, not the model
    assert _ids(body) == fused and body["degraded"] is True
    assert all("rerank" not in r["signals"] for r in body["results"])
    r = api.post("/v1/context", json={"message": "quartz lantern"})
    assert r.status_code == 200 and r.json()["relevant"]["degraded"] is True


def test_a_failing_reranker_never_makes_an_empty_search_an_error(api: httpx.Client, models: FakeModelServer) -> None:
    _lanterns(api)
    models.rerank_fault = "down"
    body = _search(api, "zeppelin marmalade", weights=KEYWORDS_ONLY)
    assert body == {"results": [], "degraded": False}
    assert not models.rerank_requests  # nothing to rerank: the reranker was not asked


# ---- query decomposition --------------------------------------------------------------------------------


def _pets_and_boats(api: httpx.Client) -> tuple[str, str]:
    return str(remember(api, DOG)["id"]), str(remember(api, KAYAK)["id"])


def test_decomposition_merges_the_sub_query_results(api: httpx.Client, models: FakeModelServer) -> None:
    dog, kayak = _pets_and_boats(api)
    question = "What did my two friends get this year?"
    assert _ids(_search(api, question, weights=KEYWORDS_ONLY, rerank=False)) == []
    models.chat_reply = '```json\n["greyhound Biscuit", "red kayak", "GREYHOUND BISCUIT", "lake"]\n```'
    body = _search(api, question, weights=KEYWORDS_ONLY, rerank=False, decompose=True)
    assert set(_ids(body)) == {dog, kayak} and body["degraded"] is False
    sent = models.chat_requests[-1]
    assert sent["model"] == "qwen-test" and sent["messages"][-1] == {"role": "user", "content": question}
    assert not models.rerank_requests


def test_decomposed_results_are_reranked_against_the_question(api: httpx.Client, models: FakeModelServer) -> None:
    dog, kayak = _pets_and_boats(api)
    models.chat_reply, models.favourite = '["red kayak"]', "kayak"
    body = _search(api, "greyhound friends", weights=KEYWORDS_ONLY, decompose=True)
    assert _ids(body) == [kayak, dog] and body["degraded"] is False
    assert models.rerank_requests[-1]["query"] == "greyhound friends"


def test_decomposition_is_off_unless_asked(api: httpx.Client, models: FakeModelServer) -> None:
    dog, _ = _pets_and_boats(api)
    models.chat_reply = '["red kayak"]'
    assert _ids(_search(api, "greyhound friends", weights=KEYWORDS_ONLY, rerank=False)) == [dog]
    assert not models.chat_requests


def test_decomposition_needs_the_server_switch(tei_api: httpx.Client, models: FakeModelServer) -> None:
    dog, _ = _pets_and_boats(tei_api)
    body = _search(tei_api, "greyhound friends", weights=KEYWORDS_ONLY, rerank=False, decompose=True)
    assert _ids(body) == [dog] and body["degraded"] is False and not models.chat_requests


def test_nothing_to_split_is_not_a_failure(api: httpx.Client, models: FakeModelServer) -> None:
    dog, _ = _pets_and_boats(api)
    models.chat_reply = '["Greyhound friends"]'  # only the question again
    body = _search(api, "greyhound friends", weights=KEYWORDS_ONLY, rerank=False, decompose=True)
    assert _ids(body) == [dog] and body["degraded"] is False


@pytest.mark.parametrize(
    ("fault", "reply"),
    [
        ("down", "[]"),
        ("slow", "[]"),
        ("not-json", "[]"),
        (None, "Sure! Search for: red kayak"),
        (None, '{"answer": "red kayak"}'),
        (None, "[1, 2]"),
    ],
)
def test_a_failing_decomposition_searches_the_question_alone(
    api: httpx.Client, models: FakeModelServer, fault: str | None, reply: str
) -> None:
    dog, _ = _pets_and_boats(api)
    models.chat_fault, models.chat_reply = fault, reply
    started = time.monotonic()
    body = _search(api, "greyhound friends", weights=KEYWORDS_ONLY, rerank=False, decompose=True)
    assert time.monotonic() - started < TIMEOUT_MS / 1000 + 1.5
    assert _ids(body) == [dog] and body["degraded"] is True
    empty = _search(api, "zeppelin marmalade", weights=KEYWORDS_ONLY, rerank=False, decompose=True)
    assert empty == {"results": [], "degraded": False}  # found nothing: "nothing there", not a 503


# ---- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {"query": "lantern", "rerank": "yes"}, "rerank"),
        ("/v1/search", {"query": "lantern", "rerank": 1}, "rerank"),
        ("/v1/search", {"query": "lantern", "decompose": "maybe"}, "decompose"),
        ("/v1/search", {"query": "lantern", "decompose": None}, "decompose"),
        ("/v1/context", {"message": "lantern", "rerank": "no"}, "rerank"),
        ("/v1/context", {"message": "lantern", "decompose": [True]}, "decompose"),
    ],
)
def test_new_fields_are_validated_with_the_contract_envelope(
    api: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 400
    answer = r.json()
    assert answer["error"] == "invalid request body"
    assert [issue["path"] for issue in answer["issues"]] == [field]
