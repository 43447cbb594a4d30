"""The SDK's behavioural contract against servers that cannot answer properly: "could not look" is always
`NovamemUnavailable` (retryable), never an empty result; nothing is retried; the token never leaks."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from novamem_client import (
    DEFAULT_TIMEOUT,
    AsyncNovamemClient,
    NovamemBadRequest,
    NovamemClient,
    NovamemError,
    NovamemForbidden,
    NovamemUnauthorized,
    NovamemUnavailable,
    SearchResults,
)

from .conftest import Canned

SECRET = "nm_sdkcontract0secret0token0do0not0leak"
Serve = Callable[..., tuple[str, Canned]]


def _refused_url() -> str:
    with socket.socket() as s:  # a port that was free a moment ago and has nobody listening now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _leak_free(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc) + repr(exc.args)
    assert SECRET not in text


def test_the_default_timeout_is_fifteen_seconds() -> None:
    assert DEFAULT_TIMEOUT == 15.0
    assert NovamemClient("http://127.0.0.1:1", token=SECRET).config.timeout == 15.0


def test_a_stopped_server_is_unavailable_not_empty() -> None:
    client = NovamemClient(_refused_url(), token=SECRET)
    for attempt in (lambda: client.search("anything"), client.recent, client.stats):
        with pytest.raises(NovamemUnavailable) as caught:
            attempt()
        assert caught.value.retryable and caught.value.status is None
        assert "connection refused" in str(caught.value)
        _leak_free(caught.value)


def test_a_slow_server_times_out_as_unavailable(canned: Serve) -> None:
    url, spec = canned(delay=3.0, body=b'{"results":[],"degraded":false}')
    client = NovamemClient(url, token=SECRET, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(NovamemUnavailable) as caught:
        client.search("slow")
    assert time.monotonic() - started < 2.5
    assert caught.value.retryable and "timed out" in caught.value.error
    _leak_free(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (500, b'{"error":"internal server error"}', "application/json"),
        (502, b"<html>bad gateway</html>", "text/html"),
        (503, b'{"error":"warm tier unreachable"}', "application/json"),
        (429, b'{"error":"rate limit exceeded"}', "application/json"),
        (200, b"<html>not json</html>", "text/html"),
        (200, b"{not json", "application/json"),
        (201, b"[1, 2", "application/json"),
        (302, b"", "text/html"),
    ],
)
def test_failed_answers_are_unavailable(canned: Serve, status: int, body: bytes, content_type: str) -> None:
    url, spec = canned(status=status, body=body, content_type=content_type)
    client = NovamemClient(url, token=SECRET)
    with pytest.raises(NovamemUnavailable) as caught:
        client.search("anything")
    assert caught.value.retryable
    assert len(spec.seen) == 1  # never retried
    _leak_free(caught.value)
    with pytest.raises(NovamemUnavailable):
        client.capture("The capture of a fact is never retried either")
    assert len(spec.seen) == 2


def test_429_carries_retry_after(canned: Serve) -> None:
    url, _ = canned(status=429, body=b'{"error":"rate limit exceeded"}', headers={"retry-after": "7"})
    with pytest.raises(NovamemUnavailable) as caught:
        NovamemClient(url, token=SECRET).recent()
    assert caught.value.status == 429 and caught.value.retry_after == 7.0
    assert caught.value.error == "rate limit exceeded"


def test_a_body_of_the_wrong_shape_is_unavailable(canned: Serve) -> None:
    url, _ = canned(body=b'{"hits": []}')
    with pytest.raises(NovamemUnavailable, match="unexpected answer"):
        NovamemClient(url, token=SECRET).search("anything")


DEGRADED_EMPTY = {"results": [], "degraded": True}
CONTEXT_DEGRADED = {
    "relevant": DEGRADED_EMPTY,
    "recent": {"results": []},
    "contextPack": {},
    "guidance": "use the pack",
}


@pytest.mark.parametrize(
    ("status", "answer"),
    [(200, DEGRADED_EMPTY), (503, {**DEGRADED_EMPTY, "error": "search degraded: vector signal unavailable"})],
)
def test_degraded_with_no_results_is_unavailable(canned: Serve, status: int, answer: dict[str, Any]) -> None:
    url, _ = canned(status=status, body=json.dumps(answer).encode())
    client = NovamemClient(url, token=SECRET)
    with pytest.raises(NovamemUnavailable) as caught:
        client.search("anything")
    assert caught.value.retryable
    with pytest.raises(NovamemUnavailable):
        client.neighbors("01JAAAAAAAAAAAAAAAAAAAAAAA")


def test_degraded_context_with_nothing_relevant_is_unavailable(canned: Serve) -> None:
    url, _ = canned(body=json.dumps(CONTEXT_DEGRADED).encode())
    with pytest.raises(NovamemUnavailable):
        NovamemClient(url, token=SECRET).context("what do I prefer?")


def test_degraded_with_results_is_still_an_answer(canned: Serve) -> None:
    item = {"id": "e1", "score": 0.5, "tier": "warm", "namespace": "default", "project": None, "source": "api"}
    url, _ = canned(body=json.dumps({"results": [{**item, "content": "kept"}], "degraded": True}).encode())
    found = NovamemClient(url, token=SECRET).search("anything")
    assert isinstance(found, SearchResults) and found.degraded and found.results[0].content == "kept"


def test_an_empty_answer_is_an_empty_result_not_an_error(canned: Serve) -> None:
    url, _ = canned(body=b'{"results":[],"degraded":false}')
    assert NovamemClient(url, token=SECRET).search("nothing like this").results == []


@pytest.mark.parametrize(
    ("status", "cls"), [(400, NovamemBadRequest), (401, NovamemUnauthorized), (403, NovamemForbidden)]
)
def test_refusals_are_never_retryable(canned: Serve, status: int, cls: type[NovamemError]) -> None:
    url, spec = canned(status=status, body=b'{"error":"refused","issues":[{"path":"query","message":"m"}]}')
    with pytest.raises(cls) as caught:
        NovamemClient(url, token=SECRET).search("x")
    assert not caught.value.retryable and caught.value.status == status and caught.value.error == "refused"
    assert len(spec.seen) == 1


def test_the_token_never_appears_in_errors_or_reprs(canned: Serve) -> None:
    url, spec = canned(status=401, body=json.dumps({"error": f"bad token {SECRET}"}).encode())
    client = NovamemClient(url, token=SECRET)
    with pytest.raises(NovamemUnauthorized) as caught:
        client.stats()
    _leak_free(caught.value)
    assert "<redacted>" in caught.value.error
    assert spec.seen[0][2]["authorization"] == f"Bearer {SECRET}"  # it was sent, only to the server
    for shown in (client, client.config, client.management, client.admin, AsyncNovamemClient(url, token=SECRET)):
        assert SECRET not in repr(shown) and SECRET not in str(shown)


def test_the_async_client_keeps_the_same_contract(canned: Serve) -> None:
    url, spec = canned(status=503, body=b'{"error":"warm tier unreachable"}')

    async def attempts() -> None:
        with pytest.raises(NovamemUnavailable):
            await AsyncNovamemClient(url, token=SECRET).search("x")
        with pytest.raises(NovamemUnavailable, match="connection refused"):
            await AsyncNovamemClient(_refused_url(), token=SECRET).management.usage()

    asyncio.run(attempts())
    assert len(spec.seen) == 1


def test_misuse_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="either token= or token_source="):
        NovamemClient("http://127.0.0.1:1", token=SECRET, token_source=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="http"):
        NovamemClient("ftp://example.com", token=SECRET)
    with pytest.raises(ValueError, match="timeout"):
        NovamemClient("http://127.0.0.1:1", timeout=0)
