"""The LLM fact-extraction backlog on the admin health and metrics pages, in Chromium.

With extraction on (its chat model served locally by tests/fake_models.py and kept down, so every debt stays
owed) both pages show how many entries owe an extraction, the number the database holds; health also shows
how long the oldest has been owed and how many failed and wait for a retry. With extraction off (the default
dashboard server) they say "Off" plainly instead of showing 0. Screenshots of both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import RunningServer, wait_for
from tests.fake_models import FakeModelServer
from tests.web.conftest import Account, Watched, add_account, new_session, shoot, start_dashboard

OWED = 3


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    """The extraction model, down for the whole module: a debt is retried later, never paid."""
    fake = FakeModelServer()
    fake.chat_fault = "down"
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def extracting(make_database: Callable[[], str], models: FakeModelServer) -> Iterator[RunningServer]:
    """A dashboard server with LLM fact extraction on."""
    server = start_dashboard(
        make_database(),
        extraction_enabled=True,
        extraction_endpoint=models.chat_url,
        extraction_model="qwen-test",
        extraction_timeout_ms=600,
    )
    yield server
    server.stop()


def _owed(server: RunningServer, *, failed: bool = False) -> int:
    where = "facts_pending_at IS NOT NULL" + (" AND facts_attempts > 0" if failed else "")
    return int(server.sql(f"SELECT count(*) FROM memory_entries WHERE {where}")[0][0])


def _deep_health(server: RunningServer, admin: Account) -> dict[str, Any]:
    """`GET /v1/admin/health/deep` as `admin`, the report the health page renders."""
    with server.client(cookies=new_session(server, admin)) as client:
        r = client.get("/v1/admin/health/deep")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _store_memories(server: RunningServer, models: FakeModelServer) -> None:
    """`OWED` memories written through the API by a user; each owes an extraction the model cannot pay."""
    user = add_account(server)
    with server.client(cookies=new_session(server, user), headers={"origin": server.base_url}) as as_user:
        token = as_user.post("/v1/me/tokens", json={"label": "backlog"}).json()["token"]
    with server.client(headers={"authorization": f"Bearer {token}"}) as agent:
        for i in range(OWED):
            r = agent.post("/v1/remember", json={"content": f"The backlog test's memory number {i} about Lisbon"})
            assert r.status_code in (200, 201), r.text
    # the drain tried each one and the model failed: every debt is still owed, waiting for its retry
    assert wait_for(lambda: _owed(server, failed=True) == OWED, timeout=30)
    assert _owed(server) == OWED


def test_health_and_metrics_show_the_extraction_backlog_when_on(
    open_page: Callable[..., Watched], extracting: RunningServer, models: FakeModelServer
) -> None:
    _store_memories(extracting, models)
    admin = add_account(extracting, "admin")
    deep = _deep_health(extracting, admin)
    assert (deep["pendingExtractions"], deep["failingExtractions"]) == (OWED, OWED)
    assert deep["oldestExtractionOwedAt"] is not None
    watched = open_page(admin, server=extracting)
    page = watched.page

    watched.goto("/admin/health")
    expect(page.locator("[data-kpi=extraction] dd")).to_have_text("On")
    expect(page.locator("[data-kpi=pending-extractions] dt")).to_have_text("Pending fact extractions")
    expect(page.locator("[data-kpi=pending-extractions] dd")).to_have_text(str(OWED))
    expect(page.locator("[data-kpi=failing-extractions] dd")).to_have_text(str(OWED))
    expect(page.locator("[data-kpi=oldest-extraction] dd")).to_have_text(re.compile(r"^\d+ (s|min)$"))
    expect(page.locator("[data-note=extraction]")).to_contain_text(f"failed for {OWED} entries")
    expect(page.locator("[data-note=extraction]")).to_contain_text("retried with backoff")
    shoot(page, "admin-health-extraction-on")

    watched.goto("/admin/metrics")
    expect(page.locator("[data-metric=pending_facts]")).to_have_text(str(OWED))
    shoot(page, "admin-metrics-extraction-on")


def test_health_and_metrics_say_extraction_is_off(
    open_page: Callable[..., Watched], make_account: Callable[..., Account], dashboard: RunningServer
) -> None:
    admin = make_account("admin")
    deep = _deep_health(dashboard, admin)
    assert [deep[k] for k in ("pendingExtractions", "oldestExtractionOwedAt", "failingExtractions")] == [None] * 3
    watched = open_page(admin)
    page = watched.page

    watched.goto("/admin/health")
    expect(page.locator("[data-kpi=extraction] dd")).to_have_text("Off")
    for kpi in ("pending-extractions", "oldest-extraction", "failing-extractions"):  # no 0 for a stage that is off
        expect(page.locator(f"[data-kpi={kpi}]")).to_have_count(0)
    expect(page.locator("[data-note=extraction]")).to_contain_text("LLM fact extraction is off")
    shoot(page, "admin-health-extraction-off")

    watched.goto("/admin/metrics")
    expect(page.locator("[data-metric=pending_facts]")).to_have_text("extraction off")
    shoot(page, "admin-metrics-extraction-off")
