"""Logs: JSON lines on stdout, the request id on every line of a request and in `X-Request-Id`, the
configured level honoured, and no credential ever written, whatever carries it (headers, paths,
messages, extra fields, exceptions)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from novamem.config import load_settings
from novamem.http.middleware.request_context import RequestContextMiddleware
from novamem.observability.logs import JsonFormatter, RateLimitFilter, configure_logging
from novamem.observability.redaction import REDACTED, redactor
from tests.conftest import free_port, wait_for

ADMIN = "admin@example.com"
HEX_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class Served:
    """A `python -m novamem serve` subprocess, its URL, environment and captured output."""

    proc: subprocess.Popen[bytes]
    base_url: str
    env: dict[str, str]
    stdout: Path
    stderr: Path

    def lines(self) -> list[dict[str, Any]]:
        """Every stdout line, parsed; fails on any line that is not one JSON object."""
        parsed = []
        for line in self.stdout.read_text().splitlines():
            value = json.loads(line)
            assert isinstance(value, dict), line
            parsed.append(value)
        return parsed

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()


def serve(tmp_path: Path, database_url: str, **env: str) -> Served:
    """Start a real server process on the given database with `env` (NOVAMEM_* and friends) added."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NOVAMEM_", "OTEL_")) and k != "LOG_LEVEL"}
    clean.update(
        NOVAMEM_DATABASE_URL=database_url,
        NOVAMEM_PORT=str(port),
        NOVAMEM_DATA_DIR=str(tmp_path / "data"),
        NOVAMEM_JOBS_ENABLED="false",
        **env,
    )
    stdout, stderr = tmp_path / f"stdout-{port}.log", tmp_path / f"stderr-{port}.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "novamem", "serve"], env=clean, stdout=out, stderr=err, cwd=tmp_path
        )
    served = Served(proc, f"http://127.0.0.1:{port}", clean, stdout, stderr)

    def ready() -> bool:
        try:
            return httpx.get(f"{served.base_url}/live", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    assert wait_for(ready, timeout=120, every=0.2) and proc.poll() is None, served.output()
    return served


def stop(served: Served) -> None:
    """SIGINT (what uvicorn treats as a clean shutdown), then wait for the process to end."""
    served.proc.send_signal(signal.SIGINT)
    try:
        served.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()


def _wait_for_line(served: Served, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def seen() -> bool:
        found[:] = [line for line in served.lines() if predicate(line)]
        return bool(found)

    assert wait_for(seen, timeout=30), served.stdout.read_text()[-4000:]
    return found[0]


def _completed(served: Served, request_id: str) -> dict[str, Any]:
    return _wait_for_line(
        served, lambda line: line.get("request_id") == request_id and line["msg"] == "request completed"
    )


@pytest.fixture
def user_server(tmp_path: Path, make_database: Callable[[], str]) -> Iterator[tuple[Served, dict[str, str]]]:
    """A user-mode server at debug level with a bootstrap admin; yields it and the secrets it knows."""
    known = {
        "cookie_secret": secrets.token_urlsafe(32),
        "password": "Boot-" + secrets.token_urlsafe(12),
        "new_password": "Next-" + secrets.token_urlsafe(12),
    }
    served = serve(
        tmp_path,
        make_database(),
        NOVAMEM_AUTH_MODE="user",
        NOVAMEM_COOKIE_SECRET=known["cookie_secret"],
        NOVAMEM_INSECURE_COOKIES="1",
        NOVAMEM_EMBEDDINGS_PROVIDER="none",
        NOVAMEM_BOOTSTRAP_ADMIN_EMAIL=ADMIN,
        NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD=known["password"],
        LOG_LEVEL="debug",
    )
    try:
        yield served, known
    finally:
        stop(served)


def test_a_served_session_logs_json_lines_with_request_ids_and_never_a_credential(
    user_server: tuple[Served, dict[str, str]],
) -> None:
    served, known = user_server
    base = served.base_url
    minted = subprocess.run(
        [sys.executable, "-m", "novamem", "token", "create", "--email", ADMIN, "--label", "logs"],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert token.startswith("nm_")

    browser = httpx.Client(base_url=base, headers={"origin": base}, timeout=30)
    signed = browser.post("/api/auth/sign-in/email", json={"email": ADMIN, "password": known["password"]})
    assert signed.status_code == 200, signed.text
    assert _completed(served, signed.headers["x-request-id"])["path"] == "/api/auth/sign-in/email"
    cookie = browser.cookies.get("nm.session_token")
    assert cookie
    changed = browser.post(
        "/api/auth/change-password",
        json={"currentPassword": known["password"], "newPassword": known["new_password"]},
    )
    assert changed.status_code == 200, changed.text
    cookie = browser.cookies.get("nm.session_token") or cookie
    # a wrong password and an unknown token: refused, and the refusals are logged without them
    wrong = httpx.post(f"{base}/api/auth/sign-in/email", json={"email": ADMIN, "password": "Wrong-" + token})
    assert wrong.status_code in (401, 403, 429)
    forged = httpx.post(f"{base}/v1/search", json={"query": "x"}, headers={"authorization": f"Bearer {token}x"})
    assert forged.status_code == 401

    # the token in Authorization, the session cookie in Cookie, both on one request
    both = {"authorization": f"Bearer {token}", "cookie": f"nm.session_token={cookie}"}
    ok = httpx.post(f"{base}/v1/remember", json={"content": "The logging test ran on a Tuesday"}, headers=both)
    assert ok.status_code == 201, ok.text
    request_id = ok.headers["x-request-id"]
    assert HEX_ID.fullmatch(request_id)
    line = _completed(served, request_id)
    assert line["method"] == "POST" and line["path"] == "/v1/remember" and line["status"] == 201
    assert isinstance(line["duration_ms"], float | int) and line["client_ip"] == "127.0.0.1"
    assert line["level"] == "info" and line["logger"] == "novamem.http"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])

    # credentials in a path (never routed, so logged as the raw path): redacted in the completion line
    leaked = httpx.get(f"{base}/nope/{token}/{cookie}/password={known['new_password']}?token={token}", headers=both)
    assert leaked.status_code == 404
    line = _completed(served, leaked.headers["x-request-id"])
    assert line["path"].startswith("/nope/") and REDACTED in line["path"] and "?" not in line["path"]

    # a matched route is logged by its pattern, not its ids
    missing = httpx.put(f"{base}/v1/memories/01ARZ3NDEKTSV4RRFFQ69G5FAV", json={"content": "x"}, headers=both)
    assert missing.status_code == 404
    assert _completed(served, missing.headers["x-request-id"])["path"] == "/v1/memories/{id}"

    # every stdout line is a JSON object with the base fields; debug lines are there at debug level
    lines = served.lines()
    assert lines and all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines)
    assert {line["level"] for line in lines} <= {"debug", "info", "warn", "error", "critical"}
    assert any(line["level"] == "debug" for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines), "uvicorn's records go through JSON too"

    output = served.output()
    for name, value in {**known, "token": token, "cookie": cookie}.items():
        assert value not in output, f"the {name} reached the logs"
    assert cookie.split(".")[0] not in output, "the session token inside the cookie reached the logs"


def test_a_sane_incoming_request_id_is_kept_and_an_insane_one_replaced(
    user_server: tuple[Served, dict[str, str]],
) -> None:
    served, _ = user_server
    kept = httpx.get(f"{served.base_url}/live", headers={"x-request-id": "edge-7f3a.b_9"})
    assert kept.headers["x-request-id"] == "edge-7f3a.b_9"
    assert _completed(served, "edge-7f3a.b_9")["path"] == "/live"

    for insane in ("has space", "a" * 129, 'quote"d', "back\\slash", "semi;colon", "slash/x", ""):
        answered = httpx.get(f"{served.base_url}/live", headers={"x-request-id": insane})
        replaced = answered.headers["x-request-id"]
        assert replaced != insane and HEX_ID.fullmatch(replaced)
        _completed(served, replaced)
    assert "has space" not in served.stdout.read_text()


def test_warn_level_writes_no_info_or_debug_lines(tmp_path: Path, make_database: Callable[[], str]) -> None:
    served = serve(
        tmp_path,
        make_database(),
        NOVAMEM_AUTH_MODE="user",
        NOVAMEM_COOKIE_SECRET=secrets.token_urlsafe(32),
        NOVAMEM_EMBEDDINGS_PROVIDER="none",
        NOVAMEM_BOOTSTRAP_ADMIN_EMAIL=ADMIN,
        NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD="Boot-" + secrets.token_urlsafe(12),
        LOG_LEVEL="warn",
    )
    try:
        for _ in range(3):
            assert httpx.get(f"{served.base_url}/live").status_code == 200
        assert httpx.post(f"{served.base_url}/v1/search", json={"query": "x"}).status_code == 401
    finally:
        stop(served)
    lines = served.lines()
    # the still-set bootstrap password is warned about at every start
    assert any(line["level"] == "warn" for line in lines), lines
    assert all(line["level"] in ("warn", "error") for line in lines), lines
    assert not any(line["msg"] == "request completed" for line in lines)


# ---- the formatter and the middleware in-process -------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """configure_logging into a buffer, with the root logger restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    settings = load_settings(
        database_url="postgresql://novamem:db-Pa55word-x@127.0.0.1:5432/novamem",
        cookie_secret="c" * 8 + secrets.token_urlsafe(32),
        embeddings_api_key="sk-live-" + secrets.token_hex(8),
        log_level="info",
    )
    configure_logging(settings, stream=stream)
    stream.secrets = settings  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        redactor.clear()


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_messages_arguments_extra_fields_and_tracebacks_are_redacted(captured: io.StringIO) -> None:
    settings: Any = captured.secrets  # type: ignore[attr-defined]
    cookie_secret = settings.cookie_secret.get_secret_value()
    api_key = settings.embeddings_api_key.get_secret_value()
    token = "nm_" + secrets.token_urlsafe(32)
    session = "A" * 32 + "." + "b" * 43
    log = logging.getLogger("novamem.test")
    log.info("sign-in with password=%s and header Authorization: Bearer %s", "hunter2-pass", token)
    log.info("cookie secret %s, key %s", cookie_secret, api_key)
    log.info(
        "connecting",
        extra={
            "url": "postgresql://novamem:db-Pa55word-x@127.0.0.1/x",
            "password": "plain",
            "headers": {"cookie": session},
        },
    )
    try:
        raise ValueError(f"bad body {{'newPassword': 'p w d'}} from nm.session_token={session} with {token}")
    except ValueError:
        log.exception("request failed")
    log.debug("below the level %s", token)

    text = captured.getvalue()
    for value in (token, session, cookie_secret, api_key, "hunter2-pass", "db-Pa55word-x", "p w d", "plain"):
        assert value not in text, value
    records = _records(captured)
    assert len(records) == 4, "the debug record is below the configured level"
    assert records[0]["msg"] == f"sign-in with password={REDACTED} and header Authorization: Bearer {REDACTED}"
    assert records[2]["password"] == REDACTED and REDACTED in records[2]["url"]
    assert records[2]["headers"] == {"cookie": REDACTED}
    assert "ValueError" in records[3]["exc"] and "Traceback" in records[3]["exc"]
    assert all(record["logger"] == "novamem.test" and "request_id" not in record for record in records)


def test_uvicorn_records_go_through_the_json_formatter(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://127.0.0.1:1")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    records = _records(captured)
    assert [(r["logger"], r["level"]) for r in records] == [("uvicorn.error", "info"), ("uvicorn.error", "warn")]


async def _explode(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    logging.getLogger("novamem.services").warning("about to fail")
    raise RuntimeError("boom with Authorization: Bearer nm_ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_an_unhandled_error_is_logged_once_with_the_request_id_and_answered_500(captured: io.StringIO) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            RequestContextMiddleware(_explode), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started, timeout=30)
        answered = httpx.get(f"http://127.0.0.1:{port}/x", headers={"x-request-id": "fail-1"})
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert answered.status_code == 500 and answered.json() == {"error": "internal server error"}
    assert answered.headers["x-request-id"] == "fail-1"
    mine = [r for r in _records(captured) if r.get("request_id") == "fail-1"]
    assert [r["msg"] for r in mine] == ["about to fail", "unhandled error on GET /x", "request completed"]
    assert "RuntimeError" in mine[1]["exc"] and "nm_ABCDEFGHIJ" not in captured.getvalue()
    assert mine[2]["status"] == 500
    assert not [r for r in _records(captured) if "Exception in ASGI application" in r["msg"]], "logged once"


def test_exporter_failures_are_rate_limited_with_a_count_of_the_suppressed() -> None:
    now = [1000.0]
    limiter = RateLimitFilter("opentelemetry", interval_s=60, clock=lambda: now[0])

    def record(name: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, "export failed", None, None)

    exporter = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
    assert limiter.filter(record(exporter))
    assert [limiter.filter(record(exporter)) for _ in range(5)] == [False] * 5
    assert all(limiter.filter(record("novamem.http")) for _ in range(3)), "only the prefix is limited"
    now[0] += 61
    passed = record(exporter)
    assert limiter.filter(passed) and passed.suppressed_count == 5
    formatted = json.loads(JsonFormatter().format(passed))
    assert formatted["suppressed"] == 5 and formatted["level"] == "warn"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer "),
        ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic "),
        ('{"password": "two words", "email": "a@b"}', '"email": "a@b"'),
        ("Cookie: nm.session_token=abc.def; theme=dark", "Cookie: "),
        ("postgresql://novamem:s3cret-pw@db:5432/novamem", "postgresql://novamem:"),
        ("api_key=sk-123 and apiKey: sk-456", " and apiKey: "),
        ("auth_token='shared-bearer-token-1'", "auth_token='"),
        ("token nm_abcdefghijklmnopqrstuvwxyz0123456789 used", "token "),
    ],
)
def test_credential_shapes_are_redacted(text: str, kept: str) -> None:
    redacted = redactor.redact(text)
    assert REDACTED in redacted and kept in redacted
    for secret in ("abc.def-ghi", "dXNlcjpwYXNz", "two words", "abc.def", "s3cret-pw", "sk-123", "sk-456"):
        assert secret not in redacted
    assert "shared-bearer-token-1" not in redacted and "nm_abcdefghij" not in redacted


def test_ordinary_words_are_left_alone() -> None:
    text = "request completed: 12 tokens, token_count=5, max_tokens=3, session_id=01J, request_id=abc"
    assert redactor.redact(text) == text


def test_the_shared_embedding_worker_does_not_keep_the_first_requests_id() -> None:
    import asyncio

    from novamem.embedding.base import BatchingQueue
    from novamem.observability.context import request_id_var

    seen: list[str | None] = []

    async def run_batch(texts: list[str]) -> list[list[float]]:
        seen.append(request_id_var.get())
        return [[1.0] for _ in texts]

    async def scenario() -> None:
        queue = BatchingQueue(run_batch, 8)
        request_id_var.set("first-request")
        await queue.embed(["a"])
        request_id_var.set("second-request")
        await queue.embed(["b"])
        await queue.close()

    asyncio.run(scenario())
    assert seen == [None, None]
