"""A real server with Qdrant (local mode) as its vector index, spoken to over HTTP only: its drainer feeds
the collection in the background and searches use it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import start_server, wait_for

FACT = "The payroll export runs every Friday at 18:00 from the finance server"


def test_a_served_write_reaches_qdrant_and_search_answers_from_it(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    srv = start_server(
        make_database(), jobs_enabled=False, vector_store="qdrant", qdrant_url=f"path:{tmp_path / 'qdrant'}"
    )
    try:
        with srv.client() as api:
            r = api.post("/v1/remember", json={"content": FACT})
            assert r.status_code == 201, r.text
            entry = r.json()["id"]
            # the outbox row is applied by the server's own drainer, within about a second
            assert wait_for(lambda: srv.sql("SELECT count(*) FROM index_outbox") == [(0,)], timeout=20)
            body = api.post("/v1/search", json={"query": FACT, "weights": {"keyword": 0}}).json()
            assert [i["id"] for i in body["results"]] == [entry] and body["degraded"] is False
            ready = api.get("/ready")
            assert ready.status_code == 200 and ready.json() == {"ok": True}
        assert srv.sql("SELECT target FROM index_targets") == [("vector",)]
    finally:
        srv.stop()
