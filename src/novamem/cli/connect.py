"""`novamem connect HOST`: write (or show) the MCP configuration that points an agent host at this server.

JSON hosts (Claude Code, Claude Desktop, Cursor, Kilo Code, Roo Code, Cline, GitHub Copilot in VS Code, Windsurf,
Gemini CLI, OpenCode) get a `novamem` server merged under their servers key (`mcpServers`, `servers` or `mcp`);
Codex gets a `[mcp_servers.novamem]` table merged into its TOML file; Goose (`extensions.novamem`) and Continue
(an item of `mcpServers`) get their entry merged into their YAML file, comments kept; `generic` only prints a
snippet. Existing files are merged, never clobbered: a file that does not parse is refused untouched, and a `.bak`
copy is kept before any change. The token is written into the file but never printed, except masked in
`--dry-run` diffs and snippets. Kilo Code, Roo Code and VS Code keep their MCP servers per project: their file is
under the current folder. With `--skills`, Claude Code and Kilo Code also get the Agent Skills bundle and slash
commands (cli/connect_skills.py).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import re
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from novamem.cli import connect_skills
from novamem.config import EmbeddingsProvider, load_settings
from novamem.container import Container
from novamem.domain.scope import PUBLIC_TENANT
from novamem.errors import ConfigError, InvalidInput
from novamem.services.agents.connect import (
    HOSTS,
    SERVER_NAME,
    YAML_HOSTS,
    AgentHost,
    codex_table,
    host_config,
    host_json_config,
    server_entry,
    servers_key,
    yaml_config,
)
from novamem.services.agents.skills import SKILL_HOSTS
from novamem.services.agents.yaml_merge import load_yaml_mapping

__all__ = ["HOSTS", "add_parser", "run"]

DEFAULT_URL = "http://127.0.0.1:7778"
MINT_PLACEHOLDER = "<token minted when run without --dry-run>"

HELP_EPILOG = """\
hosts and the file each one reads (override with --config):
  claude-code     ~/.claude.json                       mcpServers.novamem (remote HTTP)
  cursor          ~/.cursor/mcp.json                   mcpServers.novamem (remote HTTP)
  claude-desktop  ~/.config/Claude/claude_desktop_config.json (Linux),
                  ~/Library/Application Support/Claude/claude_desktop_config.json (macOS)
                                                       mcpServers.novamem (stdio: `novamem mcp-stdio`)
  codex           ~/.codex/config.toml                 [mcp_servers.novamem] (stdio: `novamem mcp-stdio`)
  kilo-code       ./.kilocode/mcp.json (project)       mcpServers.novamem (remote HTTP, streamable-http)
  roo-code        ./.roo/mcp.json (project)            mcpServers.novamem (remote HTTP, streamable-http)
  cline           <VS Code user dir>/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json
                  (Linux ~/.config/Code/User, macOS ~/Library/Application Support/Code/User)
                                                       mcpServers.novamem (remote HTTP, streamableHttp)
  vscode          ./.vscode/mcp.json (workspace)       servers.novamem (remote HTTP; GitHub Copilot agent mode)
  windsurf        ~/.codeium/windsurf/mcp_config.json  mcpServers.novamem (remote HTTP, serverUrl)
  gemini-cli      ~/.gemini/settings.json              mcpServers.novamem (remote HTTP, httpUrl)
  opencode        ~/.config/opencode/opencode.json     mcp.novamem (remote HTTP, type remote)
  goose           ~/.config/goose/config.yaml          extensions.novamem (remote HTTP, streamable_http)
  continue        ~/.continue/config.yaml              mcpServers list, name novamem (remote HTTP, streamable-http)
  generic         nothing is written: a JSON snippet is printed for any remote-MCP host

The token comes from --token, else NOVAMEM_TOKEN, else is minted with --mint --email E (minting uses the
server's database, like `novamem token create`). Existing files are merged and backed up to <file>.bak;
YAML comments are kept.

--skills also installs the Agent Skills bundle and slash commands:
  claude-code     ~/.claude/commands/{remember,recall,today,forget}.md, ~/.claude/skills/{novamem,session-recap}/,
                  and a marked novamem section in ~/.claude/CLAUDE.md
  kilo-code       ./.kilocode/commands/{remember,recall,today,forget,projects,neighbors}.md and
                  ./.kilocode/rules/novamem.md
A command or skill file you edited is kept (and reported) unless --force; --dry-run shows every change.
"""


def add_parser(sub: Any) -> None:
    """Register the `connect` command on the top-level subparsers."""
    p = sub.add_parser(
        "connect",
        help="write the MCP configuration for an agent host (Claude Code, Cursor, Codex, Windsurf, ...)",
        description="Write, or with --dry-run show, the MCP configuration that connects an agent host to this "
        "novamem server. Existing configuration files are merged, never overwritten.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("host", choices=HOSTS, metavar="HOST", help="one of: " + ", ".join(HOSTS))
    p.add_argument(
        "--url", help=f"server base URL (default NOVAMEM_BASE_URL or {DEFAULT_URL}); the MCP endpoint is <url>/mcp"
    )
    p.add_argument("--token", help="API token (nm_...) for the host to send (default NOVAMEM_TOKEN)")
    p.add_argument("--mint", action="store_true", help="mint a fresh token for --email and write it into the file")
    p.add_argument("--email", help="with --mint: the account the token belongs to")
    p.add_argument("--tenant", default=PUBLIC_TENANT, help="with --mint: the account's tenant (tenant mode only)")
    p.add_argument("--label", help="with --mint: the token's label (default 'novamem connect HOST')")
    p.add_argument("--config", type=Path, help="the host's configuration file (default: the host's usual path)")
    p.add_argument("--dry-run", action="store_true", help="change nothing; print the change as a unified diff")
    p.add_argument("--show-token", action="store_true", help="print the token unmasked in diffs and snippets")
    p.add_argument(
        "--skills",
        action="store_true",
        help="also install the Agent Skills bundle and slash commands (claude-code, kilo-code)",
    )
    p.add_argument("--force", action="store_true", help="with --skills: replace skill and command files you edited")


@dataclass(frozen=True)
class _Target:
    path: Path
    old_text: str | None  # None: the file does not exist yet
    data: dict[str, Any]  # the parsed existing configuration ({} when missing or empty)


def run(args: argparse.Namespace) -> int:
    """Run `connect`; refusals surface as NovamemError (exit code 2 from main)."""
    base = _base_url(args.url)
    host = AgentHost(args.host)
    if args.mint and args.token:
        raise InvalidInput("pass either --token or --mint, not both")
    if args.mint and not args.email:
        raise InvalidInput("--mint needs --email (the account the token is minted for)")
    if args.email and not args.mint:
        raise InvalidInput("--email is only used with --mint")
    if args.force and not args.skills:
        raise InvalidInput("--force only applies to --skills")
    if args.skills and host not in SKILL_HOSTS:
        takers = ", ".join(sorted(h.value for h in SKILL_HOSTS))
        raise InvalidInput(
            f"--skills installs skills and slash commands for {takers}; for {args.host}, copy the skills/ "
            "folder of the novamem repository where the host reads Agent Skills (docs/agents.md)"
        )
    if host is AgentHost.GENERIC:
        if args.config is not None:
            raise InvalidInput("the generic host never writes a file; drop --config")
        if args.mint and not args.dry_run and not args.show_token:
            raise InvalidInput("a token minted for the generic host is only shown with --show-token")
        token = _token(args)
        snippet = host_config(AgentHost.GENERIC, base, token).text
        print(_masked(snippet, token, args.show_token), end="")  # noqa: T201
        return 0

    # read and validate every file before minting: a refused file must not cost a token
    target = _read_target(args.host, args.config or _default_path(args.host))
    skills = connect_skills.plan(host, force=args.force) if args.skills else []
    token = _token(args)
    new_text, warning = _render(host, target, base, token)
    if warning:
        print(warning, file=sys.stderr)  # noqa: T201
    if args.dry_run:
        _show_dry_run(target, new_text, skills, token, args.show_token)
        return 0
    if target.old_text == new_text:
        print(f"no change: {target.path} is up to date")  # noqa: T201
    else:
        backup = _write(target, new_text)
        note = f" (previous version saved to {backup})" if backup else ""
        print(f"wrote the {SERVER_NAME} MCP server for {args.host} to {target.path}{note}")  # noqa: T201
        print(f"restart {args.host} to pick it up", file=sys.stderr)  # noqa: T201
    if skills:
        connect_skills.apply(skills)
        lines = connect_skills.describe(skills, applied=True)
        print("\n".join(lines) if lines else "no change: the skills and commands are up to date")  # noqa: T201
    elif host in SKILL_HOSTS:
        print(f"add --skills to also install the novamem skills and slash commands for {args.host}", file=sys.stderr)  # noqa: T201
    return 0


def _show_dry_run(
    target: _Target, new_text: str, skills: list[connect_skills.FileChange], token: str, show_token: bool
) -> None:
    old = target.old_text or ""
    diff = difflib.unified_diff(
        old.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        "/dev/null" if target.old_text is None else str(target.path),
        str(target.path),
    )
    shown = "".join(diff)
    print(_masked(shown, token, show_token) if shown else f"no change: {target.path} is up to date")  # noqa: T201
    if skills:
        print(connect_skills.diff(skills), end="")  # noqa: T201
        lines = connect_skills.describe(skills, applied=False)
        print("\n".join(lines) if lines else "no change: the skills and commands are up to date")  # noqa: T201


def _base_url(given: str | None) -> str:
    url = (given or os.environ.get("NOVAMEM_BASE_URL") or DEFAULT_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"--url must be an http:// or https:// URL (got {url!r})")
    if parts.query or parts.fragment:
        raise InvalidInput("--url must be a base URL without query or fragment")
    return url


def _token(args: argparse.Namespace) -> str:
    if args.mint:
        if args.dry_run:  # a dry run changes nothing, the token table included
            return MINT_PLACEHOLDER
        return asyncio.run(_mint(args))
    token = (args.token or os.environ.get("NOVAMEM_TOKEN") or "").strip()
    if not token:
        raise InvalidInput("no token: pass --token, set NOVAMEM_TOKEN, or mint one with --mint --email E")
    return token


async def _mint(args: argparse.Namespace) -> str:
    # the same path as `novamem token create`: no embedder, no jobs, the server's database
    settings = load_settings(embeddings_provider=EmbeddingsProvider.NONE, jobs_enabled=False)
    if not settings.auth_mode.has_accounts:
        raise ConfigError(f"--mint needs NOVAMEM_AUTH_MODE=user or tenant (it is {settings.auth_mode.value})")
    container = await Container.build(settings)
    try:
        minted = await container.tokens.mint_for_email(
            args.tenant, args.email, label=args.label or f"novamem connect {args.host}"
        )
    finally:
        await container.close()
    return minted.token


def _default_path(host: str) -> Path:
    home = Path.home()
    simple = {
        "claude-code": home / ".claude.json",
        "cursor": home / ".cursor" / "mcp.json",
        "codex": home / ".codex" / "config.toml",
        "kilo-code": Path.cwd() / ".kilocode" / "mcp.json",
        "roo-code": Path.cwd() / ".roo" / "mcp.json",
        "vscode": Path.cwd() / ".vscode" / "mcp.json",
        "windsurf": home / ".codeium" / "windsurf" / "mcp_config.json",
        "gemini-cli": home / ".gemini" / "settings.json",
        "opencode": home / ".config" / "opencode" / "opencode.json",
        "continue": home / ".continue" / "config.yaml",
    }
    if host in simple:
        return simple[host]
    if host == "goose":
        if sys.platform == "win32":
            return _app_config_dir("Block") / "goose" / "config" / "config.yaml"
        return home / ".config" / "goose" / "config.yaml"
    if host == "cline":
        settings = _app_config_dir("Code") / "User" / "globalStorage" / "saoudrizwan.claude-dev" / "settings"
        return settings / "cline_mcp_settings.json"
    # claude-desktop
    return _app_config_dir("Claude") / "claude_desktop_config.json"


def _app_config_dir(app: str) -> Path:
    """Where a desktop application keeps its settings on this platform."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / app
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / app
    return home / ".config" / app


def _read_target(host: str, path: Path) -> _Target:
    path = path.expanduser()
    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a configuration file")
    if not path.exists():
        return _Target(path, None, {})
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}; left untouched") from None
    if not text.strip():
        return _Target(path, text, {})
    table = servers_key(AgentHost(host))
    if host == "codex":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}); left untouched") from None
    elif AgentHost(host) in YAML_HOSTS:
        data = _read_yaml(path, text, host)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); left untouched") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} does not hold a JSON object; left untouched")
    # (YAML hosts were checked by _read_yaml: Continue's servers are a list)
    if AgentHost(host) not in YAML_HOSTS and table in data and not isinstance(data[table], dict):
        raise ConfigError(f"{path}: {table} is not a table of servers; left untouched")
    return _Target(path, text, data)


def _read_yaml(path: Path, text: str, host: str) -> dict[str, Any]:
    try:
        data = load_yaml_mapping(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise ConfigError(f"{path} is not valid YAML ({problem}); left untouched") from None
    except ValueError:
        raise ConfigError(f"{path} does not hold a YAML mapping; left untouched") from None
    key = servers_key(AgentHost(host))
    kind = list if AgentHost(host) is AgentHost.CONTINUE else dict
    if data.get(key) is not None and not isinstance(data[key], kind):
        raise ConfigError(f"{path}: {key} is not a {'list' if kind is list else 'table'} of servers; left untouched")
    return data


def _render(host: AgentHost, target: _Target, base: str, token: str) -> tuple[str, str | None]:
    """The host file's new text, our entry (services/agents/connect.py) merged into what was there, and a
    warning when the merge could not keep the file's comments."""
    if host is AgentHost.CODEX:
        return _render_codex(target, base, token), None
    if host in YAML_HOSTS:
        merged = yaml_config(host, target.old_text or "", base, token)
        lost = not merged.comments_kept and "#" in (target.old_text or "")
        warning = f"{target.path}: its layout could not be edited in place; comments are dropped (see the .bak)"
        return merged.text, warning if lost else None
    return host_json_config(host, target.data, base, token), None


_CODEX_HEADER = re.compile(r'^\s*\[\s*"?mcp_servers"?\s*\.\s*"?novamem"?\s*(\]|\.)')
_ANY_HEADER = re.compile(r"^\s*\[")


def _render_codex(target: _Target, base: str, token: str) -> str:
    block = codex_table(base, token)
    lines = (target.old_text or "").splitlines(keepends=True)
    kept: list[str] = []
    inserted = False
    skipping = False
    for line in lines:
        if _CODEX_HEADER.match(line):  # our table or one of its sub-tables: replaced by the new block
            if not inserted:
                kept.extend(block)
                inserted = True
            skipping = True
            continue
        if skipping and _ANY_HEADER.match(line):
            skipping = False
            kept.append("\n")
        if not skipping:
            kept.append(line)
    if not inserted:
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        if kept and kept[-1].strip():
            kept.append("\n")
        kept.extend(block)
    text = "".join(kept)
    _check_codex(target, text, base, token)
    return text


def _check_codex(target: _Target, text: str, base: str, token: str) -> None:
    """The textual edit must leave every other table as it was and our table exactly as intended."""
    expected = server_entry(AgentHost.CODEX, base, token)
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        parsed = None
    servers = parsed.get("mcp_servers", {}) if parsed is not None else {}
    others = {k: v for k, v in servers.items() if k != SERVER_NAME}
    before = dict(target.data)
    before_servers = {k: v for k, v in before.pop("mcp_servers", {}).items() if k != SERVER_NAME}
    after = dict(parsed or {})
    after.pop("mcp_servers", None)
    if parsed is None or servers.get(SERVER_NAME) != expected or others != before_servers or after != before:
        raise ConfigError(
            f"{target.path} defines mcp_servers.{SERVER_NAME} in a form this command cannot merge safely; "
            "left untouched (add the table by hand, see docs/mcp.md)"
        )


def _write(target: _Target, text: str) -> Path | None:
    """Replace the file atomically; back the old one up first. Token-bearing new files are private (0600)."""
    path = target.path
    path.parent.mkdir(parents=True, exist_ok=True)
    backup: Path | None = None
    mode = 0o600
    if target.old_text is not None:
        mode = path.stat().st_mode & 0o777
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup


_TOKEN_SHAPE = re.compile(r"nm_[A-Za-z0-9_-]{8,}")


def _mask_one(token: str) -> str:
    return f"{token[:3]}****{token[-4:]}" if len(token) > 12 else "****"


def _masked(text: str, token: str, show: bool) -> str:
    """Hide the token (and any other nm_ token, e.g. an old one in the file being replaced) unless asked."""
    if show:
        return text
    if token and token != MINT_PLACEHOLDER:
        text = text.replace(token, _mask_one(token))
    return _TOKEN_SHAPE.sub(lambda m: _mask_one(m.group(0)), text)
