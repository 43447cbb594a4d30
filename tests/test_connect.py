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
import yaml
from ulid import ULID

from novamem.cli.main import main
from novamem.services.agents.connect import AgentHost, host_config, servers_key
from novamem.services.agents.skills import claude_md_fragment, host_files
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
        {"type": "streamableHttp", "url": f"{URL}/mcp"},
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


# ---- YAML hosts: Goose and Continue --------------------------------------------------------------------------

GOOSE_ENTRY = {
    "enabled": True,
    "type": "streamable_http",
    "name": "novamem",
    "description": "novamem long-term memory",
    "uri": f"{URL}/mcp",
    "headers": HTTP_HEADERS,
    "timeout": 300,
}
CONTINUE_ENTRY = {
    "name": "novamem",
    "type": "streamable-http",
    "url": f"{URL}/mcp",
    "requestOptions": {"headers": HTTP_HEADERS},
}

GOOSE_EXISTING = """\
# goose settings, kept by hand
GOOSE_PROVIDER: anthropic   # the provider I pay for
GOOSE_MODEL: claude-sonnet-4
extensions:
  developer:
    enabled: true
    type: builtin
    name: developer
    timeout: 300
  # the old novamem entry, about to be replaced
  novamem:
    enabled: false
    type: sse
    name: novamem
    uri: http://old.example.test/mcp/sse
  github:
    enabled: true
    type: stdio
    name: github
    cmd: npx
    args:
    - -y
    - '@modelcontextprotocol/server-github'

GOOSE_MODE: smart_approve
"""

CONTINUE_EXISTING = """\
name: My Config
version: 1.0.0
schema: v1
# models first
models:
  - name: Claude
    provider: anthropic
    model: claude-sonnet-4
mcpServers:
  - name: playwright   # browser tools
    command: npx
    args:
      - "@playwright/mcp@latest"
  - name: novamem
    type: sse
    url: http://old.example.test/mcp/sse
context:
  - provider: code
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the Linux and macOS location is asserted here")
def test_goose_writes_a_streamable_http_extension_to_its_config_yaml(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / ".config" / "goose" / "config.yaml"
    code, out, err = connect(capsys, "goose", "--dry-run", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert out.startswith(f"--- /dev/null\n+++ {path}\n") and "+    type: streamable_http\n" in out
    assert TOKEN not in out and not path.exists()

    code, out, err = connect(capsys, "goose", "--url", URL + "/", "--token", TOKEN)
    assert code == 0, err
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {"extensions": {"novamem": GOOSE_ENTRY}}
    assert path.read_text(encoding="utf-8") == host_config(AgentHost.GOOSE, URL, TOKEN).text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TOKEN not in out + err


def test_goose_merge_keeps_other_keys_extensions_and_comments(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "goose.yaml"
    path.write_text(GOOSE_EXISTING, encoding="utf-8")
    before = yaml.safe_load(GOOSE_EXISTING)
    code, _, err = connect(capsys, "goose", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert "comments are dropped" not in err
    text = path.read_text(encoding="utf-8")
    after = yaml.safe_load(text)
    assert after == {**before, "extensions": {**before["extensions"], "novamem": GOOSE_ENTRY}}
    assert list(after["extensions"]) == ["developer", "novamem", "github"]  # our entry stays where it was
    for comment in ("# goose settings, kept by hand", "# the provider I pay for", "# the old novamem entry"):
        assert comment in text
    assert "old.example.test" not in text
    assert path.with_name("goose.yaml.bak").read_text(encoding="utf-8") == GOOSE_EXISTING

    code, out, _ = connect(capsys, "goose", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0 and "no change" in out
    assert path.read_text(encoding="utf-8") == text


def test_continue_writes_a_new_config_yaml_with_its_header(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / ".continue" / "config.yaml"
    code, out, err = connect(capsys, "continue", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {
        "name": "Local Config",
        "version": "1.0.0",
        "schema": "v1",
        "mcpServers": [CONTINUE_ENTRY],
    }
    assert path.read_text(encoding="utf-8") == host_config(AgentHost.CONTINUE, URL, TOKEN).text
    assert str(path) in out and TOKEN not in out + err


def test_continue_merge_replaces_only_our_list_item(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "continue.yaml"
    path.write_text(CONTINUE_EXISTING, encoding="utf-8")
    before = yaml.safe_load(CONTINUE_EXISTING)
    code, out, err = connect(capsys, "continue", "--config", str(path), "--dry-run", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert out.startswith(f"--- {path}\n+++ {path}\n") and "-    type: sse\n" in out and TOKEN not in out
    assert path.read_text(encoding="utf-8") == CONTINUE_EXISTING

    code, _, err = connect(capsys, "continue", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0, err
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == {**before, "mcpServers": [before["mcpServers"][0], CONTINUE_ENTRY]}
    assert "# models first" in text and "# browser tools" in text
    code, out, _ = connect(capsys, "continue", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0 and "no change" in out

    # a file without the list gets it appended, everything else as it was
    bare = home / "bare.yaml"
    bare.write_text("name: Bare\nversion: 0.0.1\nschema: v1\n", encoding="utf-8")
    assert connect(capsys, "continue", "--config", str(bare), "--url", URL, "--token", TOKEN)[0] == 0
    assert bare.read_text(encoding="utf-8").startswith("name: Bare\nversion: 0.0.1\nschema: v1\nmcpServers:\n")


def test_a_yaml_layout_that_cannot_be_edited_in_place_is_rewritten_with_a_warning(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "goose.yaml"
    content = "# mine\nGOOSE_MODEL: x\nextensions: {developer: {enabled: true, type: builtin, name: developer}}\n"
    path.write_text(content, encoding="utf-8")
    code, _, err = connect(capsys, "goose", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0
    assert "comments are dropped" in err
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {
        "GOOSE_MODEL": "x",
        "extensions": {"developer": {"enabled": True, "type": "builtin", "name": "developer"}, "novamem": GOOSE_ENTRY},
    }
    assert path.with_name("goose.yaml.bak").read_text(encoding="utf-8") == content


@pytest.mark.parametrize(
    ("host", "content", "message"),
    [
        ("goose", "extensions:\n  a: [unclosed\n", "not valid YAML"),
        ("goose", "- just\n- a list\n", "not hold a YAML mapping"),
        ("goose", "extensions:\n  - a\n", "extensions is not a table"),
        ("continue", "mcpServers:\n  novamem: {url: x}\n", "mcpServers is not a list"),
    ],
)
def test_a_yaml_file_that_cannot_be_merged_is_refused_untouched(
    home: Path, capsys: pytest.CaptureFixture[str], host: str, content: str, message: str
) -> None:
    path = home / "config.yaml"
    path.write_text(content, encoding="utf-8")
    code, out, err = connect(capsys, host, "--config", str(path), "--token", TOKEN)
    assert code == 2 and message in err and "left untouched" in err and out == ""
    assert path.read_text(encoding="utf-8") == content
    assert sorted(p.name for p in home.iterdir()) == ["config.yaml"]


# ---- --skills: the Agent Skills bundle and slash commands -----------------------------------------------------


def test_claude_code_skills_install_under_the_user_folder_and_keep_claude_md(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claude = home / ".claude"
    claude.mkdir()
    (claude / "CLAUDE.md").write_text("# My rules\n\nAlways answer in French.\n", encoding="utf-8")

    code, out, err = connect(capsys, "claude-code", "--skills", "--dry-run", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert f"would write {claude / 'commands' / 'remember.md'}" in out
    assert f"would replace {claude / 'CLAUDE.md'}" in out and "+<!-- novamem:begin" in out
    assert sorted(p.name for p in claude.iterdir()) == ["CLAUDE.md"] and not (home / ".claude.json").exists()

    code, out, err = connect(capsys, "claude-code", "--skills", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    for relative, text in host_files(AgentHost.CLAUDE_CODE).items():
        assert (claude / relative).read_text(encoding="utf-8") == text
    assert (claude / "skills" / "novamem" / "references" / "search.md").exists()
    claude_md = (claude / "CLAUDE.md").read_text(encoding="utf-8")
    assert claude_md == "# My rules\n\nAlways answer in French.\n\n" + claude_md_fragment()
    assert read_json(home / ".claude.json")["mcpServers"]["novamem"]["url"] == f"{URL}/mcp"

    # idempotent: nothing changes the second time
    snapshot = {p: p.read_bytes() for p in claude.rglob("*") if p.is_file()}
    code, out, _ = connect(capsys, "claude-code", "--skills", "--url", URL, "--token", TOKEN)
    assert code == 0 and "no change: the skills and commands are up to date" in out
    assert {p: p.read_bytes() for p in claude.rglob("*") if p.is_file()} == snapshot


def test_an_edited_command_is_kept_unless_forced(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert connect(capsys, "claude-code", "--skills", "--url", URL, "--token", TOKEN)[0] == 0
    recall = home / ".claude" / "commands" / "recall.md"
    recall.write_text("my own /recall\n", encoding="utf-8")

    code, out, _ = connect(capsys, "claude-code", "--skills", "--dry-run", "--url", URL, "--token", TOKEN)
    assert code == 0
    assert f"kept {recall}" in out and "--force replaces it" in out and "-my own /recall" in out
    code, out, _ = connect(capsys, "claude-code", "--skills", "--url", URL, "--token", TOKEN)
    assert code == 0 and f"kept {recall}" in out
    assert recall.read_text(encoding="utf-8") == "my own /recall\n"

    code, out, _ = connect(capsys, "claude-code", "--skills", "--force", "--url", URL, "--token", TOKEN)
    assert code == 0 and f"replaced {recall}" in out
    assert recall.read_text(encoding="utf-8") == host_files(AgentHost.CLAUDE_CODE)["commands/recall.md"]
    assert recall.with_name("recall.md.bak").read_text(encoding="utf-8") == "my own /recall\n"


def test_kilo_code_skills_install_into_the_project(
    home: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = connect(capsys, "kilo-code", "--skills", "--url", URL, "--token", TOKEN)
    assert code == 0, err
    kilo = project / ".kilocode"
    assert read_json(kilo / "mcp.json")["mcpServers"]["novamem"]["type"] == "streamable-http"
    for name in ("remember", "recall", "today", "forget", "projects", "neighbors"):
        assert "novamem__" in (kilo / "commands" / f"{name}.md").read_text(encoding="utf-8")
    assert (kilo / "rules" / "novamem.md").exists()
    assert not (home / ".claude").exists()


def test_without_skills_a_host_that_takes_them_gets_a_hint(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = connect(capsys, "claude-code", "--url", URL, "--token", TOKEN)
    assert code == 0 and "add --skills" in err
    assert not (home / ".claude").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cursor", "--skills", "--token", TOKEN], "--skills installs skills and slash commands for"),
        (["claude-code", "--force", "--token", TOKEN], "--force only applies to --skills"),
    ],
)
def test_skills_arguments_are_checked(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = connect(capsys, *argv)
    assert code == 2 and message in err
    assert list(home.iterdir()) == []


def test_opencode_2_native_servers_get_the_entry_in_their_own_form(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "opencode.json"
    other = {"type": "local", "command": ["npx", "-y", "other-mcp"]}
    original = {"$schema": "https://opencode.ai/config.json", "mcp": {"timeout": 5000, "servers": {"other": other}}}
    path.write_text(json.dumps(original), encoding="utf-8")
    code, _, err = connect(capsys, "opencode", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0, err
    assert read_json(path) == {
        "$schema": "https://opencode.ai/config.json",
        "mcp": {
            "timeout": 5000,
            "servers": {"other": other, "novamem": {"type": "remote", "url": f"{URL}/mcp", "headers": HTTP_HEADERS}},
        },
    }
    code, out, _ = connect(capsys, "opencode", "--config", str(path), "--url", URL, "--token", TOKEN)
    assert code == 0 and "no change" in out
