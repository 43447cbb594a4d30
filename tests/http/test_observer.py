"""The observer over real HTTP: `POST /v1/observe` writes a dated log from new memories, `GET
/v1/context-prefix` serves it, the log is condensed once it grows long, and a model that is down, slow or
answers garbage leaves the log (and every write and search) as it was.

Only the chat model is a stand-in (tests/fake_models.py); the server, its database and its embedder are real.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import ConfigError
from novamem.services.memory.models import MemoryCreate
from tests.conftest import RunningServer, start_server
from tests.fake_models import SLOW_S, FakeModelServer
from tests.http.identity_helpers import COOKIE_SECRET, add_user, as_token, error, mint
from tests.http.test_writes import remember

# long enough for a loaded CI machine, shorter than the fake model's "slow" answer (SLOW_S, 3 s)
TIMEOUT_MS = 1500
# the scheduled-pass test does not test timeouts: a generous one keeps it steady on a busy machine
PASS_TIMEOUT_MS = 10000
REFLECT_AT = 5
STAGING = "- 🔴 [2026-11-30] Deploys go through the staging cluster first"
PYTEST = "- 🟡 [2026-12-01] Prefers pytest over unittest"
LINT = "- 🟢 [2026-12-02] Runs ruff before every commit"
REPLY = (
    f"<think>which ones matter?</think>\n```\n{STAGING}\nnot a bullet at all\n"
    "* 🟡 [2026-12-01] Prefers pytest over unittest\n```"
)


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def observing(make_database: Callable[[], str], models: FakeModelServer) -> Iterator[RunningServer]:
    running = start_server(
        make_database(),
        jobs_enabled=False,
        observer_enabled=True,
        observer_endpoint=models.chat_url,
        observer_model="qwen-observer",
        observer_api_key="ob-test-secret-8d1f",
        observer_reflect_threshold=REFLECT_AT,
        observer_timeout_ms=TIMEOUT_MS,
    )
    yield running
    running.stop()


@pytest.fixture
def api(observing: RunningServer, models: FakeModelServer) -> Iterator[httpx.Client]:
    observing.sql("TRUNCATE memory_entries CASCADE")
    observing.sql("TRUNCATE observer_logs")
    models.reset()
    with observing.client() as client:
        yield client


def observe(api: httpx.Client, **body: Any) -> dict[str, Any]:
    r = api.post("/v1/observe", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def prefix(api: httpx.Client, **params: str) -> str:
    r = api.get("/v1/context-prefix", params=params)
    assert r.status_code == 200, r.text
    return str(r.json()["prefix"])


def sent(models: FakeModelServer, index: int = -1) -> tuple[str, str]:
    """The system and user prompts of a chat request."""
    messages = models.chat_requests[index]["messages"]
    return messages[0]["content"], messages[1]["content"]


def test_an_observation_writes_dated_bullets_that_the_prefix_serves(api: httpx.Client, models: FakeModelServer) -> None:
    remember(api, "We decided that every deploy goes through the staging cluster first")
    remember(api, "Ask alice@example.com before touching the billing tables", occurredAt="2026-11-28T09:00:00Z")
    remember(api, "A note about lunch plans that lives on another shelf", namespace="notes")
    models.chat_reply = REPLY

    result = observe(api)

    # the reasoning, the fences and the line that is not a bullet are dropped; `*` bullets are normalised
    assert prefix(api) == f"{STAGING}\n{PYTEST}"
    assert result == {"observed": 2, "reflected": 0, "logChars": len(f"{STAGING}\n{PYTEST}")}
    request = models.chat_requests[0]
    assert request["model"] == "qwen-observer" and request["temperature"] == 0
    assert models.headers[0]["authorization"] == "Bearer ob-test-secret-8d1f"
    system, user = sent(models)
    assert "YYYY-MM-DD" in system
    assert "[2026-11-28] Ask [EMAIL] before touching the billing tables" in user  # redacted, with its date
    assert "alice@example.com" not in user
    assert "staging cluster" in user and "lunch" not in user  # only namespace `default` is observed


def test_a_second_observation_sends_only_what_is_new(api: httpx.Client, models: FakeModelServer) -> None:
    remember(api, "We decided that every deploy goes through the staging cluster first")
    models.chat_reply = STAGING
    observe(api)

    assert observe(api) == {"observed": 0, "reflected": 0, "logChars": len(STAGING)}
    assert len(models.chat_requests) == 1  # nothing new: the model is not asked

    remember(api, "The team settled on ruff as the only linter and formatter")
    models.chat_reply = LINT
    assert observe(api)["observed"] == 1
    _, user = sent(models)
    new = user.split("New memories:\n", 1)[1]
    assert "ruff" in new and "staging" not in new
    assert user.startswith(f"Current log:\n{STAGING}\n")  # the log it already has, so it is not repeated
    assert prefix(api) == f"{STAGING}\n{LINT}"


def test_nothing_worth_a_bullet_moves_the_cursor_on(api: httpx.Client, models: FakeModelServer) -> None:
    remember(api, "We had a long chat about the weather in the afternoon")
    models.chat_reply = "NONE"
    assert observe(api)["observed"] == 1
    assert prefix(api) == ""
    assert observe(api)["observed"] == 0  # already seen


def test_a_long_log_is_condensed_by_the_model(api: httpx.Client, models: FakeModelServer) -> None:
    bullets = [f"- 🟡 [2026-12-0{i}] Fact number {i} about the build" for i in range(1, 7)]
    for i in range(3):
        remember(api, f"Build fact number {i} about the pipeline and its caches")
    models.chat_reply = "\n".join(bullets[:3])
    assert observe(api)["reflected"] == 0
    for i in range(3):
        remember(api, f"Another build fact number {i} about the runners and their images")
    models.chat_reply = "\n".join(bullets[3:])  # six bullets now: past the threshold of five

    result = observe(api)

    system, user = sent(models)
    assert "Rewrite the log" in system and user.count("\n") == 5  # all six bullets, one per line
    # the model answered three bullets to the rewrite: shorter, so it is the log now
    assert result["reflected"] == 1 and prefix(api) == "\n".join(bullets[3:])


@pytest.mark.parametrize("fault", ["down", "not-json", "slow", "garbage"])
def test_a_failing_model_changes_nothing_and_the_next_pass_retries(
    api: httpx.Client, models: FakeModelServer, fault: str
) -> None:
    remember(api, "We decided that every deploy goes through the staging cluster first")
    if fault == "garbage":
        models.chat_reply = "Sorry, I can only help with cooking questions."
    else:
        models.chat_fault = fault

    started = time.monotonic()
    r = api.post("/v1/observe", json={})

    assert r.status_code == 503 and error(r) == "observer model unavailable" and r.json()["detail"]
    assert time.monotonic() - started < SLOW_S  # the timeout, not the model, ended the wait
    assert prefix(api) == ""
    # writes and searches never depend on the observer
    remember(api, "The staging cluster runs on the blue node pool")
    assert api.post("/v1/search", json={"query": "staging cluster"}).json()["results"]

    models.chat_fault, models.chat_reply = None, STAGING
    assert observe(api)["observed"] == 2  # the memory the failed pass did not get through is sent again
    assert prefix(api) == STAGING


@pytest.mark.parametrize("body", [{"limit": 0}, {"limit": 201}, {"limit": "many"}, {"project": "p" * 129}])
def test_a_bad_observe_body_is_refused(api: httpx.Client, models: FakeModelServer, body: dict[str, Any]) -> None:
    r = api.post("/v1/observe", json=body)
    assert r.status_code == 400 and error(r) == "invalid request body"
    assert r.json()["issues"][0]["path"] in {"limit", "project"}
    assert models.chat_requests == []


def test_the_limit_caps_what_one_pass_sends(api: httpx.Client, models: FakeModelServer) -> None:
    for i in range(4):
        remember(api, f"Setup fact number {i}: the cache lives on volume {i}")
    models.chat_reply = STAGING
    assert observe(api, limit=2)["observed"] == 2
    _, user = sent(models)
    assert "number 3" in user and "number 2" in user and "number 1" not in user  # the newest two


# ---- users and projects ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def users(make_database: Callable[[], str], models: FakeModelServer) -> Iterator[dict[str, Any]]:
    server = start_user_server_with_observer(make_database(), models)
    add_user(server, "ada@example.com", role="admin")
    add_user(server, "bob@example.com")
    yield {"server": server, "ada": mint(server, "ada@example.com"), "bob": mint(server, "bob@example.com")}
    server.stop()


def start_user_server_with_observer(database_url: str, models: FakeModelServer) -> RunningServer:
    return start_server(
        database_url,
        auth_mode="user",
        cookie_secret=COOKIE_SECRET,
        insecure_cookies=True,
        jobs_enabled=False,
        embeddings_provider="none",
        observer_enabled=True,
        observer_endpoint=models.chat_url,
        observer_model="qwen-observer",
        observer_timeout_ms=TIMEOUT_MS,
    )


def test_a_log_is_its_owner_s_alone(users: dict[str, Any], models: FakeModelServer) -> None:
    server = users["server"]
    models.reset()
    with as_token(server, users["ada"]) as ada, as_token(server, users["bob"]) as bob:
        remember(bob, "Bob keeps his dotfiles in a private repository on the home server")
        remember(ada, "Ada decided that the release train leaves every second Tuesday")
        project = ada.post("/v1/me/projects", json={"name": "atlas"}).json()
        remember(ada, "Atlas builds are cached on the shared runner", project="atlas")
        models.chat_reply = STAGING
        assert observe(ada)["observed"] == 1
        _, user = sent(models)
        assert "release train" in user and "dotfiles" not in user and "Atlas" not in user
        models.chat_reply = LINT
        assert observe(ada, project="atlas")["observed"] == 1
        assert "Atlas builds" in sent(models)[1]

        assert prefix(ada) == STAGING and prefix(ada, project=project["id"]) == LINT
        assert prefix(bob) == ""  # another user's log is never served
        r = bob.get("/v1/context-prefix", params={"project": "atlas"})
        assert r.status_code in (403, 404)  # not a member: refused, never Ada's log
        assert bob.post("/v1/observe", json={}).status_code in (401, 403)  # observing is for operators


# ---- the scheduled pass and start-up checks -------------------------------------------------------------


@pytest.fixture
async def container(make_database: Callable[[], str], models: FakeModelServer) -> AsyncIterator[Container]:
    settings = load_settings(
        database_url=make_database(),
        jobs_enabled=False,
        auth_mode="none",
        embeddings_provider="none",
        observer_enabled=True,
        observer_endpoint=models.chat_url,
        observer_model="qwen-observer",
        observer_observe_threshold=3,
        observer_timeout_ms=PASS_TIMEOUT_MS,
    )
    built = await Container.build(settings)
    yield built
    await built.close()


async def test_the_scheduled_pass_observes_logs_with_enough_new_memories(
    container: Container, models: FakeModelServer
) -> None:
    models.reset()
    models.chat_reply = STAGING
    busy, quiet = Caller(tenant_id="default", user_id="busy"), Caller(tenant_id="default", user_id="quiet")
    for i in range(3):
        await container.memories.remember(busy, MemoryCreate(content=f"Busy user's setup fact {i} about caches"))
    await container.memories.remember(quiet, MemoryCreate(content="Quiet user's only note about the office"))
    assert container.observer is not None

    done = await container.observer.run_scheduled()

    assert (done.logs, done.observed) == (1, 3)  # the quiet user has fewer than the threshold
    assert (await container.observer.context_prefix(busy, None)).prefix == STAGING
    assert (await container.observer.context_prefix(quiet, None)).prefix == ""
    again = await container.observer.run_scheduled()
    assert again.logs == 0 and len(models.chat_requests) == 1  # nothing new since


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"observer_enabled": True}, "NOVAMEM_OBSERVER_ENDPOINT"),
        ({"observer_enabled": True, "observer_endpoint": "http://127.0.0.1:9/v1"}, "NOVAMEM_OBSERVER_MODEL"),
        ({"observer_endpoint": "http://llm.example.com/v1", "observer_model": "m"}, "NOVAMEM_OBSERVER_ENDPOINT"),
        ({"observer_reflect_threshold": 0}, "reflect_threshold"),
        ({"observer_timeout_ms": 10}, "timeout_ms"),
    ],
)
def test_an_unusable_observer_configuration_refuses_to_start(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**settings)
    assert named.lower() in refused.value.message.lower()
