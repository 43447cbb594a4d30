"""`novamem doctor` on a good and on a bad configuration, with a real server, database and backups."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from novamem.cli.doctor import tls_finding
from novamem.cli.main import main
from tests.conftest import RunningServer, free_port
from tests.http.identity_helpers import COOKIE_SECRET, add_user, cli, start_user_server


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_user_server(make_database())
    add_user(running, "alice@example.com")
    yield running
    running.stop()


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own (doctor reads ./.env) and a private data directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOVAMEM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "--json", *argv])
    report = json.loads(capsys.readouterr().out)
    return code, report


def _by_check(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {item["check"]: item for item in report["checks"]}


def _good_env(monkeypatch: pytest.MonkeyPatch, srv: RunningServer, backups: Path) -> None:
    env = {
        "NOVAMEM_DATABASE_URL": srv.database_url,
        "NOVAMEM_COOKIE_SECRET": COOKIE_SECRET,
        "NOVAMEM_BACKUP_DIR": str(backups),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example.com",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _verified_backup(srv: RunningServer, backups: Path) -> None:
    code, _, err = cli(srv, "backup", "--out", str(backups))
    assert code == 0, err
    code, _, err = cli(srv, "backup", "--verify", "--out", str(backups))
    assert code == 0, err


def test_a_good_configuration_passes(
    srv: RunningServer, place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _verified_backup(srv, place / "backups")
    _good_env(monkeypatch, srv, place / "backups")
    code, report = _doctor(capsys, "--url", srv.base_url)
    assert code == 0, report
    checks = _by_check(report)
    for name in (
        "configuration",
        ".env permissions",
        "auth mode",
        "cookie secret",
        "bootstrap password",
        "cookie flags",
        "CORS",
        "bind address",
        "dashboard",
        "rate limit",
        "log level",
        "tracing (OTLP)",
        "database connections",
        "backups",
        "backup verified",
        "server reachable",
        "security headers",
    ):
        assert checks[name]["status"] == "pass", checks[name]
    # plain HTTP on loopback: tolerated for local use, with the fix named
    assert checks["TLS and HSTS"]["status"] == "warn" and "reverse proxy" in checks["TLS and HSTS"]["fix"]
    assert set(report["checks"][0]) == {"check", "status", "detail", "fix"}
    assert report["summary"] == {
        s: sum(c["status"] == s for c in report["checks"]) for s in ("pass", "warn", "fail", "skipped")
    }
    assert COOKIE_SECRET not in json.dumps(report)

    # the text form: one line per item, the fix on non-passing lines, a summary line
    assert main(["doctor", "--url", srv.base_url]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(f"{report['summary']['pass']} passed")
    items = [line for line in lines[:-1] if line]
    assert len(items) == len(report["checks"])
    assert all(line.split()[0] in ("PASS", "WARN", "FAIL", "SKIP") for line in items)
    assert all("fix:" in line for line in items if line.startswith("WARN"))


def test_a_weak_configuration_fails_and_names_the_items(
    srv: RunningServer, place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _good_env(monkeypatch, srv, place / "no-backups")
    monkeypatch.setenv("NOVAMEM_RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("NOVAMEM_INSECURE_COOKIES", "1")
    monkeypatch.setenv("NOVAMEM_BASE_URL", "https://memory.example.com")
    monkeypatch.setenv("NOVAMEM_LOG_LEVEL", "debug")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    nobody = f"http://127.0.0.1:{free_port()}"
    code, report = _doctor(capsys, "--url", nobody, "--replicas", "10")
    assert code == 1
    checks = _by_check(report)
    failed = {c["check"] for c in report["checks"] if c["status"] == "fail"}
    assert failed == {"cookie flags", "backups", "backup verified", "database connections"}
    assert "NOVAMEM_INSECURE_COOKIES" in checks["cookie flags"]["detail"]
    assert "novamem backup" in checks["backups"]["fix"]
    assert "NOVAMEM_PG_POOL_MAX" in checks["database connections"]["fix"]
    for name in ("rate limit", "log level", "tracing (OTLP)"):
        assert checks[name]["status"] == "warn" and checks[name]["fix"], checks[name]
    # the server is not running: live checks are skipped, not failed
    for name in ("server reachable", "TLS and HSTS", "security headers"):
        assert checks[name]["status"] == "skipped" and "did not answer" in checks[name]["detail"]

    assert main(["doctor", "--url", nobody]) == 1
    text = capsys.readouterr().out
    assert "FAIL  cookie flags" in text and "fix: serve over TLS" in text


def test_a_configuration_the_server_refuses_fails_the_first_item(
    place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOVAMEM_AUTH_MODE", "none")
    monkeypatch.setenv("NOVAMEM_HOST", "0.0.0.0")
    code, report = _doctor(capsys)
    assert code == 1
    assert report["checks"][0]["check"] == "configuration" and report["checks"][0]["status"] == "fail"
    assert "NOVAMEM_AUTH_MODE=none" in report["checks"][0]["detail"]


def test_a_readable_env_file_and_secret_file_are_reported(
    place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = place / ".env"
    env_file.write_text("NOVAMEM_RATE_LIMIT_PER_MINUTE=0\n")
    env_file.chmod(0o644)
    secret = place / "data" / "cookie-secret"
    secret.parent.mkdir()
    secret.write_text("x" * 43)
    secret.chmod(0o644)
    code, report = _doctor(capsys, "--url", f"http://127.0.0.1:{free_port()}")
    checks = _by_check(report)
    assert checks[".env permissions"]["status"] == "warn" and checks[".env permissions"]["fix"] == "chmod 600 .env"
    assert checks["rate limit"]["status"] == "warn"  # the .env file is read, as the server would
    assert checks["cookie secret"]["status"] == "fail" and "chmod 600" in checks["cookie secret"]["fix"]
    # no embedded database in this data directory: the connection check is skipped, not failed
    assert checks["database connections"]["status"] == "skipped"
    assert code == 1

    env_file.chmod(0o600)
    secret.chmod(0o600)
    _, report = _doctor(capsys, "--url", f"http://127.0.0.1:{free_port()}")
    checks = _by_check(report)
    assert checks[".env permissions"]["status"] == "pass" and checks["cookie secret"]["status"] == "pass"


def test_old_and_failed_backups_are_reported(
    srv: RunningServer, place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backups = place / "backups"
    _verified_backup(srv, backups)
    _good_env(monkeypatch, srv, backups)
    manifest_path = next(backups.glob("*.json"))
    manifest = json.loads(manifest_path.read_text())
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    manifest["createdAt"] = old
    manifest["verification"]["at"] = old
    manifest_path.write_text(json.dumps(manifest))
    code, report = _doctor(capsys, "--url", srv.base_url)
    checks = _by_check(report)
    assert checks["backups"]["status"] == "warn" and "3.0 days" in checks["backups"]["detail"]
    assert checks["backup verified"]["status"] == "warn"
    assert code == 0

    manifest["verification"] = {"at": old, "ok": False, "problems": ["public.users: 1 rows restored, 2 backed up"]}
    manifest_path.write_text(json.dumps(manifest))
    code, report = _doctor(capsys, "--url", srv.base_url)
    assert _by_check(report)["backup verified"]["status"] == "fail" and code == 1
    assert "public.users" in _by_check(report)["backup verified"]["detail"]

    manifest["verification"] = None
    manifest_path.write_text(json.dumps(manifest))
    _, report = _doctor(capsys, "--url", srv.base_url)
    assert _by_check(report)["backup verified"]["status"] == "warn"
    assert "never verified" in _by_check(report)["backup verified"]["detail"]


class _Bare(BaseHTTPRequestHandler):
    """A server that answers without any security header (a proxy that strips them)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok":true}')

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_missing_security_headers_fail(
    srv: RunningServer, place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _good_env(monkeypatch, srv, place / "backups")
    bare = ThreadingHTTPServer(("127.0.0.1", 0), _Bare)
    thread = threading.Thread(target=bare.serve_forever, daemon=True)
    thread.start()
    try:
        code, report = _doctor(capsys, "--url", f"http://127.0.0.1:{bare.server_address[1]}")
    finally:
        bare.shutdown()
        bare.server_close()
    headers = _by_check(report)["security headers"]
    assert code == 1 and headers["status"] == "fail"
    assert "x-content-type-options" in headers["detail"] and "x-frame-options" in headers["detail"]


@pytest.mark.parametrize(
    ("base", "hsts", "status"),
    [
        ("https://memory.example.com", "max-age=31536000; includeSubDomains", "pass"),
        ("https://memory.example.com", None, "warn"),
        ("http://127.0.0.1:7778", None, "warn"),
        ("http://localhost:7778", None, "warn"),
        ("http://10.0.0.5:7778", None, "fail"),
        ("http://memory.example.com", "max-age=31536000", "fail"),
    ],
)
def test_tls_is_judged_as_a_browser_meets_it(base: str, hsts: str | None, status: str) -> None:
    finding = tls_finding(base, hsts)
    assert finding.status == status
    assert (finding.fix != "") == (status != "pass")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["doctor", "--replicas", "0"], ["doctor", "--nope"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
    assert "--replicas" in capsys.readouterr().err
