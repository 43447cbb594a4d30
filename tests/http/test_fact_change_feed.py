"""`GET /v1/me/changes` over real HTTP with fact extraction on (its chat model served locally,
tests/fake_models.py): each derived fact is announced created, then deleted exactly once when its source is
forgotten or rewritten, and only to the accounts that could see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server, wait_for
from tests.fake_models import FakeModelServer
from tests.http.identities import USER_MODE, add_project, add_user, client, mint

DUBAI = "Caroline moved to Dubai in March 2026 and works as a nurse at the city hospital"
BELGIUM = "Caroline moved to Belgium in March 2026 and works as a nurse at the city hospital"


def facts_answer(*objects: str) -> str:
    return json.dumps(
        [{"type": "fact", "subject": "Caroline", "predicate": "relates to", "object": o} for o in objects]
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
        **USER_MODE,
        extraction_enabled=True,
        extraction_endpoint=models.chat_url,
        extraction_model="qwen-test",
        extraction_timeout_ms=600,
    )
    yield running
    models.reset()
    running.stop()


@pytest.fixture(scope="module")
def accounts(srv: RunningServer) -> dict[str, str]:
    """Tokens of alice, bob (a member of alice's project) and carol (no member); the project's id as `shared`."""
    users = {name: add_user(srv, name) for name in ("alice", "bob", "carol")}
    found = {name: mint(srv, user) for name, user in users.items()}
    found["shared"] = add_project(srv, "shared", users["alice"], users["bob"])
    return found


@pytest.fixture
def tokens(srv: RunningServer, models: FakeModelServer, accounts: dict[str, str]) -> Iterator[dict[str, str]]:
    srv.sql("TRUNCATE memory_entries, memory_changes CASCADE")
    models.reset()
    yield accounts
    models.reset()


def feed(api: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    r = api.get("/v1/me/changes", params={"limit": 500})
    assert r.status_code == 200, r.text
    return [(c["entryId"], c["change"], c["detail"]) for c in r.json()["changes"]]


def fact_ids(srv: RunningServer) -> set[str]:
    return {str(r[0]) for r in srv.sql("SELECT id FROM memory_entries WHERE source_type = 'fact'")}


def facts_landed(srv: RunningServer, source: str, count: int) -> bool:
    rows = srv.sql("SELECT count(*) FROM memory_entries WHERE fact_source_id = %s", (source,))
    return rows == [(count,)] and srv.sql(
        "SELECT facts_pending_at IS NULL FROM memory_entries WHERE id = %s", (source,)
    ) == [(True,)]


def remember(api: httpx.Client, content: str, **fields: Any) -> str:
    r = api.post("/v1/remember", json={"content": content, **fields})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_forgotten_source_takes_its_facts_out_of_the_feed_once(
    srv: RunningServer, models: FakeModelServer, tokens: dict[str, str]
) -> None:
    models.chat_reply = facts_answer("Dubai", "nursing")
    with client(srv, tokens["alice"]) as api:
        source = remember(api, DUBAI, sourceRefs=["chat:42"])
        assert wait_for(lambda: facts_landed(srv, source, 2), timeout=20)
        facts = fact_ids(srv)
        created = [e for e in feed(api) if e[1] == "created" and e[0] in facts]
        assert sorted(created) == sorted(
            (f, "created", {"source": "manual", "fact": True, "sourceId": source}) for f in facts
        )
        r = api.post("/v1/forget", json={"sourceRef": "chat:42"})
        assert r.status_code == 200 and r.json()["count"] == 1
        events = feed(api)
    deleted = [e for e in events if e[1] == "deleted"]
    assert deleted[0] == (source, "deleted", {})
    assert sorted(deleted[1:]) == sorted(
        (f, "deleted", {"fact": True, "sourceId": source, "reason": "source_deleted"}) for f in facts
    )


def test_fact_events_follow_the_facts_visibility(
    srv: RunningServer, models: FakeModelServer, tokens: dict[str, str]
) -> None:
    models.chat_script = [facts_answer("Dubai"), facts_answer("Belgium")]
    with client(srv, tokens["alice"]) as api:
        source = remember(api, DUBAI, project=tokens["shared"])
        assert wait_for(lambda: facts_landed(srv, source, 1), timeout=20)
        (old,) = fact_ids(srv)
        r = api.put(f"/v1/memories/{source}", json={"content": BELGIUM}, params={"project": tokens["shared"]})
        assert r.status_code == 200, r.text
        assert wait_for(lambda: facts_landed(srv, source, 1) and fact_ids(srv) != {old}, timeout=20)
        (new,) = fact_ids(srv)
        alice = feed(api)
    with client(srv, tokens["bob"]) as api:
        bob = feed(api)
    with client(srv, tokens["carol"]) as api:
        carol = feed(api)
    # alice and bob (a member of the project) both see the old fact go once, and the new one arrive
    for seen in (alice, bob):
        assert [e[1] for e in seen if e[0] == old] == ["created", "deleted"]
        assert [e for e in seen if e[0] == old][1][2] == {"fact": True, "sourceId": source, "reason": "source_changed"}
        assert [e[1] for e in seen if e[0] == new] == ["created"]
    assert carol == []
