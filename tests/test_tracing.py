"""Traces: spans for requests, database calls, embedding and external calls reach an OTLP/HTTP collector
when one is configured; with none configured, nothing about OpenTelemetry is set up at all."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.conftest import RunningServer
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.test_logging import Served, serve, stop

SERVICE = "novamem-trace-test"
SECRET_CONTENT = "The vault combination is 31-07-1999 and only Ada knows it"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
MCP_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


class Collector:
    """A tiny OTLP/HTTP receiver on loopback: decodes every POST /v1/traces body it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.paths.append(self.path)
                if self.path == "/v1/traces" and self.headers.get("content-type") == "application/x-protobuf":
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    outer.requests.append(request)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        """(resource attributes, span) for every span received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    found.extend((resource, span) for span in scope_spans.spans)
        return found


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _descendants(spans: list[Span], root: Span) -> list[Span]:
    """Every span under `root` in its trace, however deep."""
    below, frontier = [], {root.span_id}
    while frontier:
        children = [s for s in spans if s.parent_span_id in frontier and s.trace_id == root.trace_id]
        below.extend(children)
        frontier = {s.span_id for s in children}
    return below


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.stop()


@pytest.fixture
def traced(
    tmp_path: Path, make_database: Callable[[], str], collector: Collector, fake_embedder: FakeEmbeddingServer
) -> Iterator[Served]:
    served = serve(
        tmp_path,
        make_database(),
        NOVAMEM_AUTH_MODE="none",
        NOVAMEM_EMBEDDINGS_PROVIDER="openai-compatible",
        NOVAMEM_EMBEDDINGS_ENDPOINT=fake_embedder.url,
        NOVAMEM_EMBEDDINGS_MODEL="fake",
        NOVAMEM_EMBEDDINGS_DIM=str(DIM),
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_SERVICE_NAME=SERVICE,
    )
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            stop(served)


def test_spans_for_requests_database_embedding_and_external_calls_reach_the_collector(
    traced: Served, collector: Collector, fake_embedder: FakeEmbeddingServer
) -> None:
    base = traced.base_url
    created = httpx.post(f"{base}/v1/remember", json={"content": SECRET_CONTENT, "force": True}, timeout=30)
    assert created.status_code == 201, created.text
    memory_id = created.json()["id"]
    updated = httpx.put(
        f"{base}/v1/memories/{memory_id}",
        json={"content": SECRET_CONTENT + " (updated)"},
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        timeout=30,
    )
    assert updated.status_code == 200, updated.text
    assert httpx.put(f"{base}/v1/memories/01ARZ3NDEKTSV4RRFFQ69G5FAV", json={"content": "x"}).status_code == 404
    assert httpx.get(f"{base}/no/such/{memory_id}").status_code == 404
    mcp_headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    opened = httpx.post(f"{base}/mcp", content=json.dumps(MCP_INIT), headers=mcp_headers, timeout=30)
    assert opened.status_code == 200, opened.text
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "memory_search", "arguments": {}}}
    call["params"]["arguments"] = {"query": "vault combination"}  # type: ignore[index]
    session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
    answered = httpx.post(f"{base}/mcp", content=json.dumps(call), headers={**mcp_headers, **session}, timeout=30)
    assert answered.status_code == 200 and "error" not in answered.json(), answered.text
    stop(traced)  # the shutdown flushes what the batch processor still holds

    received = collector.spans()
    assert received, traced.output()[-3000:]
    assert set(collector.paths) == {"/v1/traces"}
    assert {resource["service.name"] for resource, _ in received} == {SERVICE}
    spans = [span for _, span in received]
    servers = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER and s.name.split(" ")[0] in ("GET", "PUT", "POST")]

    # the request span is named by the route pattern and carries method, route and status
    (put,) = [s for s in servers if s.name == "PUT /v1/memories/{id}" and s.trace_id.hex() == TRACE_ID]
    attributes = _attributes(put.attributes)
    assert attributes["http.request.method"] == "PUT"
    assert attributes["http.route"] == "/v1/memories/{id}"
    assert attributes["http.response.status_code"] == 200
    assert put.parent_span_id.hex() == PARENT_ID, "the incoming traceparent is the parent"
    below = _descendants(spans, put)
    database = [s for s in below if _attributes(s.attributes).get("db.system") == "postgresql"]
    assert database and all(s.kind == Span.SPAN_KIND_CLIENT for s in database)
    assert any(s.name.startswith(("UPDATE ", "SELECT ")) for s in database)
    embedding = [s for s in below if s.name == "embed openai-compatible"]
    assert embedding and _attributes(embedding[0].attributes)["novamem.embedding.batch_size"] >= 1
    (outgoing,) = [s for s in _descendants(spans, embedding[0]) if s.kind == Span.SPAN_KIND_CLIENT]
    outgoing_attributes = _attributes(outgoing.attributes)
    assert outgoing.name == "POST" and outgoing_attributes["http.response.status_code"] == 200
    assert outgoing_attributes["url.full"] == fake_embedder.url + "/embeddings"

    # 4xx is not an error; an unrouted path is named by its method only, never by the raw path
    (missing,) = [s for s in servers if s.name == "PUT /v1/memories/{id}" and s.trace_id.hex() != TRACE_ID]
    assert _attributes(missing.attributes)["http.response.status_code"] == 404
    assert missing.status.code != Status.STATUS_CODE_ERROR
    (unrouted,) = [
        s for s in servers if _attributes(s.attributes).get("http.response.status_code") == 404 and s.name == "GET"
    ]
    assert "http.route" not in _attributes(unrouted.attributes)

    # the MCP SDK's tool-call span sits under the request span of its POST /mcp
    (tool_call,) = [s for s in spans if s.name == "tools/call memory_search"]
    (mcp_request,) = [s for s in servers if s.trace_id == tool_call.trace_id and s.name == "POST /mcp"]
    assert tool_call in _descendants(spans, mcp_request)
    assert any(s.name == "embed openai-compatible" for s in _descendants(spans, tool_call))

    # no raw id in any span name, and no stored content or parameter in any attribute
    for span in spans:
        assert memory_id not in span.name
        for value in _attributes(span.attributes).values():
            assert "vault" not in str(value) and memory_id not in str(value)


def test_an_unreachable_collector_is_logged_and_never_fails_a_request(
    tmp_path: Path, make_database: Callable[[], str]
) -> None:
    collector = Collector()
    url = collector.url
    collector.stop()  # nothing listens there any more
    served = serve(
        tmp_path,
        make_database(),
        NOVAMEM_AUTH_MODE="none",
        NOVAMEM_EMBEDDINGS_PROVIDER="none",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=url + "/v1/traces",
    )
    try:
        for _ in range(5):
            assert httpx.post(f"{served.base_url}/v1/remember", json={"content": "still works"}).status_code == 201
    finally:
        stop(served)
    assert served.proc.returncode == 0, served.output()[-3000:]
    lines = served.lines()
    exporter = [line for line in lines if line["logger"].startswith("opentelemetry")]
    assert exporter, "the failed export is logged"
    assert len(exporter) <= 2, "exporter failures are rate-limited"


def test_without_an_endpoint_nothing_is_set_up() -> None:
    probe = """
import json, sys, threading
from opentelemetry import trace
from novamem.config import load_settings
from novamem.observability import tracing
from novamem.observability.logs import configure_logging
from novamem.app import create_app
settings = load_settings(auth_mode="none", database_url="postgresql://novamem@127.0.0.1:1/none")
configure_logging(settings)
handle = tracing.configure_tracing(settings)
create_app(settings)
print(json.dumps({
    "handle": handle is None,
    "enabled": tracing.enabled(),
    "provider": type(trace.get_tracer_provider()).__name__,
    "sdk": sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk") or "exporter" in m),
    "threads": [t.name for t in threading.enumerate() if t.name.startswith("Otel")],
    "span": tracing.span("x").__enter__() is None,
}), file=sys.stderr)
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stderr.strip().splitlines()[-1])
    assert found == {
        "handle": True,
        "enabled": False,
        "provider": "ProxyTracerProvider",
        "sdk": [],
        "threads": [],
        "span": True,
    }


def test_without_tracing_the_database_uses_psycopg_cursors(server: RunningServer) -> None:
    from novamem.observability import tracing

    assert not tracing.enabled()
    database = server.container.database
    assert database._cursor_factory is None
    assert database._pool.kwargs["cursor_factory"] is None
    assert httpx.get(f"{server.base_url}/ready", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("query", "summary"),
    [
        ("SELECT id FROM memory_entries WHERE tenant_id = %s", ("SELECT", "memory_entries")),
        ("  -- note\n INSERT INTO audit_log (a) VALUES (%(a)s)", ("INSERT", "audit_log")),
        ("UPDATE memory_entries SET content = %s WHERE id = %s", ("UPDATE", "memory_entries")),
        ("DELETE FROM mcp_sessions WHERE id = 'literal-id'", ("DELETE", "mcp_sessions")),
        ("SELECT pg_advisory_lock(%s)", ("SELECT", None)),
        (b"SELECT 1", ("SELECT", None)),
    ],
)
def test_statement_summaries_hold_the_operation_and_table_only(query: Any, summary: tuple[str, str | None]) -> None:
    from psycopg import sql

    from novamem.storage.postgres.traced import statement_summary

    assert statement_summary(query) == summary
    composed = sql.SQL("SELECT {} FROM {} WHERE x = {}").format(
        sql.Identifier("content"), sql.Identifier("memory_entries"), sql.Literal("secret value")
    )
    assert statement_summary(composed) == ("SELECT", None), "composed identifiers and literals are never read"
