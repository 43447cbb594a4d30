"""Health while the database is down: a server on its own PostgreSQL, which the test stops and restarts.

The session's shared PostgreSQL is never touched: this test starts a private cluster in its own
directory and stops it by pg_ctl.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import PUBLIC_TENANT, Caller
from novamem.storage.embedded import EmbeddedPostgres
from tests.conftest import wait_for
from tests.http.identity_helpers import COOKIE_SECRET, add_user, as_token, mint, start_user_server


@pytest.fixture
def pgdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "own-pg"
    EmbeddedPostgres(tmp_path / "own-pg", take_over=True).stop_if_running()


def _status(client: httpx.Client, path: str) -> int:
    try:
        return client.get(path).status_code
    except httpx.HTTPError:
        return 0


async def test_ready_and_health_answer_503_while_the_database_is_down(pgdir: Path) -> None:
    database = EmbeddedPostgres(pgdir, take_over=True)
    url = database.start()
    srv = start_user_server(url)
    settings = load_settings(database_url=url, cookie_secret=COOKIE_SECRET, embeddings_provider="none")
    probe = await Container.build(settings)  # a second replica's view, for the service-level report
    admin = Caller(tenant_id=PUBLIC_TENANT, user_id="ops", is_admin=True)
    try:
        add_user(srv, "ops@example.com", role="admin")
        token = await asyncio.to_thread(mint, srv, "ops@example.com")  # the CLI runs its own event loop
        with srv.client() as anon, as_token(srv, token) as ops:
            assert anon.get("/ready").json() == {"ok": True}
            deep = ops.get("/v1/admin/health/deep")
            assert deep.status_code == 200 and deep.json()["deps"]["warm"] == "ok"

            database.stop()  # pg_ctl stop -m fast: every connection of the server is cut

            assert wait_for(lambda: _status(anon, "/ready") == 503, timeout=60)
            for path in ("/ready", "/health"):
                r = anon.get(path)
                assert r.status_code == 503 and r.json() == {"ok": False}  # no detail for anonymous callers
            live = anon.get("/live")
            assert live.status_code == 200 and live.json() == {"ok": True}
            # an admin cannot even be authenticated without the database: an answer, never a 500
            assert ops.get("/v1/admin/health/deep").status_code == 503

            report = (await probe.health.deep(admin)).to_wire()
            assert report["ok"] is False
            assert report["deps"]["warm"] == "unreachable" and report["deps"]["cold"] == "unreachable"
            assert report["deps"]["graph"] == "disabled" and report["pendingEmbeddings"] is None

            database = EmbeddedPostgres(pgdir, take_over=True)
            assert database.start() == url
            assert wait_for(lambda: _status(anon, "/ready") == 200, timeout=60)
            assert anon.get("/health").json() == {"ok": True}
            assert wait_for(lambda: _status(ops, "/v1/admin/health/deep") == 200, timeout=60)
            assert ops.get("/v1/admin/health/deep").json()["ok"] is True
            assert (await probe.health.deep(admin)).deps.warm == "ok"
    finally:
        await probe.close()
        srv.stop()
        database.stop()
