"""`novamem connect HOST`: real files under a temporary HOME, a real database for --mint."""

from __future__ import annotations

import hashlib
import json
import secrets
import stat
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ulid import ULID

from novamem.cli.main import main
from novamem.services.agents.connect import AgentHost, host_config, servers_key
from novamem.storage.postgres.database import migrate

TOKEN = "nm_" + "A1b2C3d4" * 5 + "xyz"
URL = "https://memory.example.test"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def connect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["connect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


HTTP_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
STDIO_ENTRY = {"command": "novamem", "args": ["mcp-stdio"], "env": {"NOVAMEM_BASE_URL": URL, "NOVAMEM_TOKEN": TOKEN}}


@pytest.mark.parametrize(
    ("host", "relative", "expected"),
    [
        ("claude-code", ".claude.json", {"type": "http", "url": f"{URL}/mcp", "headers": HTTP_HEADERS}),
        ("cursor", ".cursor/mcp.json", {"url": f"{URL}/mcp", "headers": HTTP_HEADERS}),
        ("claude-desktop", ".config/Claude/claude_desktop_config.json", STDIO_ENTRY),
    ],
)
def test_json_hosts_write_their_default_file(
    home: Path, capsys: pytest.CaptureFixture[str], host: str, relative: str, expected: dict[str, Any]
) -> None:
    if host == "claude-desktop" and sys.platform != "linux":
        pytest.skip("the Linux location is asserted here")
    code, out, err = connect(capsys, host, "--url", URL + "/", "--token", TOKEN)
    assert code == 0, err
    path = home / relative
    assert read_json(path) == {"mcpServers": {"novamem": expected}}
    assert path.read_text(encoding="utf-8").startswith('{\n  "mcpServers": {\n    "novamem"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds a token
    assert not path.with_name(path.name + ".bak").exists()  # nothing existed, nothing to back up
    assert TOKEN not in out + err
    assert str(path) in out


def test_url_and_token_default_to_the_environment(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVAMEM_TOKEN", TOKEN)
    code, _, err = connect(capsys, "cursor")
    assert code == 0, err
    assert read_json(home / ".cursor/mcp.json")["mcpServers"]["novamem"]["url"] == "http://127.0.0.1:7778/mcp"
    monkeypatch.setenv("NOVAMEM_BASE_URL", URL)
    assert connect(capsys, "cursor")[0] == 0
    expected = {"url": f"{URL}/mcp", "headers": HTTP_HEADERS}
    assert read_json(home / ".cursor/mcp.json")["mcpServers"]["novamem"] == expected


def test_merge_keeps_other_servers_and_keys_and_backs_up(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "custom" / "claude.json"
    path.parent.mkdir()
    original = {
        "numStartups": 12,
        "projects": {"/src/app": {"allowedTools": ["Bash"]}},
        "mcpServers": {"other": {"type": "stdio", "command": "other-mcp"}, "novamem": {"url": "http://old/mcp"}},
    }
    original_text = json.dumps(original)
    path.write_text(original_text, encoding="utf-8")
    path.chmod(0o644)
    code, _, err = connect(capsys, "claude-code", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0, err
    merged = read_json(path)
    assert merged["numStartups"] == 12
    assert merged["projects"] == original["projects"]
    assert merged["mcpServers"]["other"] == {"type": "stdio", "command": "other-mcp"}
    assert merged["mcpServers"]["novamem"] == {"type": "http", "url": f"{URL}/mcp", "headers": HTTP_HEADERS}
    assert path.with_name("claude.json.bak").read_text(encoding="utf-8") == original_text
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # an existing file keeps its mode
    assert not (home / ".claude.json").exists()  # --config replaced the default location

    # running it again changes nothing (and leaves the backup as it was)
    before = path.read_bytes()
    code, out, _ = connect(capsys, "claude-code", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0 and "no change" in out
    assert path.read_bytes() == before
    assert path.with_name("claude.json.bak").read_text(encoding="utf-8") == original_text


@pytest.mark.parametrize(
    ("host", "content"),
    [
        ("cursor", '{"mcpServers": {"a": 1},'),
        ("cursor", "[1, 2]"),
        ("claude-desktop", '{"mcpServers": ["not", "a", "table"]}'),
        ("codex", "[mcp_servers\nbroken = "),
        ("codex", 'mcp_servers = "nope"\n'),
    ],
)
def test_an_unparseable_file_is_refused_and_left_untouched(
    home: Path, capsys: pytest.CaptureFixture[str], host: str, content: str
) -> None:
    path = home / "config-file"
    path.write_text(content, encoding="utf-8")
    code, out, err = connect(capsys, host, "--config", str(path), "--token", TOKEN)
    assert code == 2
    assert str(path) in err and "left untouched" in err
    assert out == ""
    assert path.read_text(encoding="utf-8") == content
    assert sorted(p.name for p in home.iterdir()) == ["config-file"]  # no backup, no temp file


def test_dry_run_writes_nothing_and_shows_a_masked_diff(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    old_token = "nm_" + "oldoldold" * 4
    original = json.dumps({"mcpServers": {"novamem": {"url": "http://old/mcp", "headers": {"x": old_token}}}})
    path.write_text(original, encoding="utf-8")

    code, out, err = connect(capsys, "cursor", "--dry-run", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert out.startswith(f"--- {path}\n+++ {path}\n@@")
    assert f'+      "url": "{URL}/mcp",' in out
    assert '"Authorization": "Bearer nm_****4xyz"' in out  # masked, recognisable by its tail
    assert TOKEN not in out and old_token not in out
    assert path.read_text(encoding="utf-8") == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["mcp.json"]

    code, out, _ = connect(capsys, "cursor", "--dry-run", "--url", URL, "--token", TOKEN, "--show-token")
    assert code == 0 and f"Bearer {TOKEN}" in out

    # a file that does not exist yet is diffed against /dev/null and still not created
    code, out, _ = connect(capsys, "codex", "--dry-run", "--url", URL, "--token", TOKEN)
    assert code == 0
    assert out.startswith(f"--- /dev/null\n+++ {home / '.codex' / 'config.toml'}\n")
    assert "+[mcp_servers.novamem]\n" in out
    assert not (home / ".codex").exists()


CODEX_EXISTING = """\
# my codex settings
model = "o4-mini"

[mcp_servers.other]
command = "other-mcp"
args = ["--flag"]

[mcp_servers.novamem]
command = "old-novamem"

[mcp_servers.novamem.env]
NOVAMEM_TOKEN = "nm_stale"

[profiles.fast]
model = "gpt-5-mini"
"""


def test_codex_table_is_merged_textually_and_round_trips(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(CODEX_EXISTING, encoding="utf-8")
    code, _, err = connect(capsys, "codex", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    text = path.read_text(encoding="utf-8")
    parsed = tomllib.loads(text)
    assert parsed["model"] == "o4-mini"
    assert parsed["profiles"] == {"fast": {"model": "gpt-5-mini"}}
    assert parsed["mcp_servers"]["other"] == {"command": "other-mcp", "args": ["--flag"]}
    assert parsed["mcp_servers"]["novamem"] == STDIO_ENTRY
    assert text.startswith("# my codex settings\n")  # comments outside our table survive
    assert "nm_stale" not in text and "old-novamem" not in text
    assert path.with_name("config.toml.bak").read_text(encoding="utf-8") == CODEX_EXISTING

    # idempotent: a second run finds nothing to change
    code, out, _ = connect(capsys, "codex", "--url", URL, "--token", TOKEN)
    assert code == 0 and "no change" in out
    assert path.read_text(encoding="utf-8") == text


def test_codex_appends_to_a_file_without_the_table(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "codex.toml"
    path.write_text('model = "o3"\n[tui]\nnotifications = true', encoding="utf-8")  # no trailing newline
    code, _, err = connect(capsys, "codex", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0, err
    parsed = tomllib.loads(path.read_text(encoding="utf-8"))
    assert parsed == {"model": "o3", "tui": {"notifications": True}, "mcp_servers": {"novamem": STDIO_ENTRY}}


def test_codex_refuses_a_table_it_cannot_merge_safely(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "codex.toml"
    content = '[mcp_servers]\nnovamem = { command = "x" }\n'
    path.write_text(content, encoding="utf-8")
    code, _, err = connect(capsys, "codex", "--config", str(path), "--token", TOKEN)
    assert code == 2 and "cannot merge safely" in err
    assert path.read_text(encoding="utf-8") == content


def test_generic_prints_a_snippet_and_writes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = connect(capsys, "generic", "--url", URL, "--token", TOKEN)
    assert code == 0
    snippet = json.loads(out)
    server = snippet["mcpServers"]["novamem"]
    assert server["type"] == "http" and server["url"] == f"{URL}/mcp"
    assert server["headers"]["Authorization"] == "Bearer nm_****4xyz"
    assert TOKEN not in out
    code, out, _ = connect(capsys, "generic", "--url", URL, "--token", TOKEN, "--show-token")
    assert json.loads(out)["mcpServers"]["novamem"]["headers"] == HTTP_HEADERS
    assert list(home.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cursor"], "no token"),
        (["cursor", "--token", TOKEN, "--url", "ftp://x"], "--url must be"),
        (["cursor", "--mint"], "--mint needs --email"),
        (["cursor", "--mint", "--email", "a@b.c", "--token", TOKEN], "not both"),
        (["generic", "--mint", "--email", "a@b.c"], "--show-token"),
        (["generic", "--token", TOKEN, "--config", "x.json"], "never writes"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = connect(capsys, *argv)
    assert code == 2 and message in err
    assert list(home.iterdir()) == []


def test_mint_writes_a_real_token_for_the_account(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_database: Callable[[], str],
) -> None:
    database_url = make_database()
    migrate(database_url)
    user_id = str(ULID())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, tenant_id, email, name, role) VALUES (%s, 'default', %s, 'Ada', 'user')",
            (user_id, "ada@example.test"),
        )
    monkeypatch.setenv("NOVAMEM_DATABASE_URL", database_url)
    monkeypatch.setenv("NOVAMEM_COOKIE_SECRET", secrets.token_urlsafe(32))

    def token_rows() -> list[tuple[Any, ...]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute("SELECT token_hash, user_id, label FROM user_tokens").fetchall()

    # a refused file costs no token; a dry run mints nothing either
    bad = home / "broken.json"
    bad.write_text("{", encoding="utf-8")
    assert connect(capsys, "cursor", "--config", str(bad), "--mint", "--email", "ada@example.test")[0] == 2
    code, out, _ = connect(capsys, "cursor", "--dry-run", "--mint", "--email", "ada@example.test")
    assert code == 0 and "<token minted when run without --dry-run>" in out
    assert token_rows() == []

    code, out, err = connect(
        capsys,
        "claude-desktop",
        "--config",
        str(home / "d.json"),
        "--url",
        URL,
        "--mint",
        "--email",
        "ada@example.test",
    )
    assert code == 0, err
    token = read_json(home / "d.json")["mcpServers"]["novamem"]["env"]["NOVAMEM_TOKEN"]
    assert token.startswith("nm_")
    assert token not in out + err
    assert token_rows() == [(hashlib.sha256(token.encode()).hexdigest(), user_id, "novamem connect claude-desktop")]

    # an unknown account is an error, and nothing is written
    code, _, err = connect(capsys, "cursor", "--mint", "--email", "nobody@example.test")
    assert code == 2
    assert not (home / ".cursor").exists()


NEW_HOSTS = [
    # host, where it writes (relative to HOME, or to the project folder for per-project hosts), servers key, entry
    ("kilo-code", "project/.kilocode/mcp.json", "mcpServers", {"type": "streamable-http", "url": f"{URL}/mcp"}),
    ("roo-code", "project/.roo/mcp.json", "mcpServers", {"type": "streamable-http", "url": f"{URL}/mcp"}),
    ("vscode", "project/.vscode/mcp.json", "servers", {"type": "http", "url": f"{URL}/mcp"}),
    ("windsurf", ".codeium/windsurf/mcp_config.json", "mcpServers", {"serverUrl": f"{URL}/mcp"}),
    ("gemini-cli", ".gemini/settings.json", "mcpServers", {"httpUrl": f"{URL}/mcp"}),
    ("opencode", ".config/opencode/opencode.json", "mcp", {"type": "remote", "url": f"{URL}/mcp", "enabled": True}),
    (
        "cline",
        ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        "mcpServers",
        None,  # the stdio bridge
    ),
]


def _expected_entry(partial: dict[str, Any] | None) -> dict[str, Any]:
    return STDIO_ENTRY if partial is None else {**partial, "headers": HTTP_HEADERS}


@pytest.fixture
def project(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = home / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize(("host", "relative", "key", "partial"), NEW_HOSTS)
def test_more_hosts_write_their_own_file_and_shape(
    home: Path,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    host: str,
    relative: str,
    key: str,
    partial: dict[str, Any] | None,
) -> None:
    if host == "cline" and sys.platform != "linux":
        pytest.skip("the Linux location is asserted here")
    path = home / relative
    expected = _expected_entry(partial)

    # dry run: a diff against /dev/null naming the host's file, nothing created
    code, out, err = connect(capsys, host, "--dry-run", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert out.startswith(f"--- /dev/null\n+++ {path}\n")
    assert f'+  "{key}": {{\n' in out and TOKEN not in out
    assert not path.exists()

    code, out, err = connect(capsys, host, "--url", URL + "/", "--token", TOKEN)
    assert code == 0, err
    assert read_json(path) == {key: {"novamem": expected}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in out and TOKEN not in out + err
    # the dashboard shows exactly what was written
    assert path.read_text(encoding="utf-8") == host_config(AgentHost(host), URL, TOKEN).text


@pytest.mark.parametrize(("host", "relative", "key", "partial"), NEW_HOSTS)
def test_more_hosts_merge_without_clobbering(
    home: Path,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    host: str,
    relative: str,
    key: str,
    partial: dict[str, Any] | None,
) -> None:
    path = home / "elsewhere" / "host-config.json"
    path.parent.mkdir()
    other = {"command": "other-mcp", "args": ["--flag"]}
    original = {"theme": "dark", "inputs": [{"id": "k"}], key: {"other": other, "novamem": {"url": "http://old"}}}
    original_text = json.dumps(original, indent=4)
    path.write_text(original_text, encoding="utf-8")

    code, out, err = connect(capsys, host, "--dry-run", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert out.startswith(f"--- {path}\n+++ {path}\n") and TOKEN not in out
    assert path.read_text(encoding="utf-8") == original_text

    code, _, err = connect(capsys, host, "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0, err
    merged = read_json(path)
    assert merged == {
        "theme": "dark",
        "inputs": [{"id": "k"}],
        key: {"other": other, "novamem": _expected_entry(partial)},
    }
    assert path.with_name("host-config.json.bak").read_text(encoding="utf-8") == original_text
    assert not (home / relative).exists()  # --config replaced the default location
    code, out, _ = connect(capsys, host, "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0 and "no change" in out


@pytest.mark.parametrize("host", ["vscode", "opencode", "windsurf"])
def test_more_hosts_refuse_a_servers_key_that_is_not_a_table(
    home: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    key = servers_key(AgentHost(host))
    path = home / "config.json"
    content = json.dumps({key: ["not", "a", "table"]})
    path.write_text(content, encoding="utf-8")
    code, _, err = connect(capsys, host, "--config", str(path), "--token", TOKEN)
    assert code == 2 and "left untouched" in err and key in err
    assert path.read_text(encoding="utf-8") == content
