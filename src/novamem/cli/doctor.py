"""`novamem doctor`: the production hardening checklist, checked against this configuration and, when it
answers, the running deployment.

It loads the same Settings the server would (environment and `.env`), looks at secrets and their files,
the database's connection limit, the backups, and one live response of the server. Each item is PASS,
WARN, FAIL or SKIP (not checkable now: the server or database is not reachable); exit code 1 on any FAIL.
With `--compose DIR` it also checks a Compose deployment (deploy/compose): pinned image tags, the mode and
secrets of DIR/.env, no published datastore port, Qdrant snapshots and FalkorDB persistence when enabled.
"""

from __future__ import annotations

import argparse
import json
import stat
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from novamem.cli.doctor_compose import compose_checks
from novamem.cli.findings import Finding, Status
from novamem.config import (
    AuthMode,
    LogLevel,
    Settings,
    endpoint_exposure,
    is_loopback_host,
    is_placeholder_secret,
    load_settings,
)
from novamem.container import build_backups, database_connection_limits
from novamem.errors import NovamemError
from novamem.services.operations.startup import connections_needed, largest_safe_pool

__all__ = ["BACKUP_MAX_AGE", "add_parser", "run", "run_checks", "tls_finding"]

BACKUP_MAX_AGE = timedelta(days=2)
_SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy")
_GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def add_parser(sub: Any) -> None:
    """Register `doctor` on the top-level subparsers."""
    doctor = sub.add_parser(
        "doctor",
        help="check this deployment against the production hardening checklist",
        description="Check the configuration (NOVAMEM_* variables and .env), secret files, the database's "
        "connection limit, backups and, when it answers, the running server (TLS/HSTS, security headers). "
        "Prints PASS/WARN/FAIL/SKIP per item with the fix; exit code 1 when any item fails.",
    )
    doctor.add_argument("--url", help="the deployment's public URL (default: NOVAMEM_BASE_URL, else host:port)")
    doctor.add_argument(
        "--replicas", type=_positive, default=1, help="servers sharing the database (for the connection check)"
    )
    doctor.add_argument("--json", action="store_true", help="print {checks:[{check,status,detail,fix}], summary}")
    doctor.add_argument(
        "--compose",
        type=Path,
        metavar="DIR",
        help="also check the Compose deployment in DIR (e.g. deploy/compose): pinned tags, DIR/.env, ports, "
        "Qdrant snapshots and FalkorDB persistence",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    """Run every check, print the report, and answer 1 if anything failed."""
    try:
        settings = load_settings()
    except NovamemError as exc:
        findings = [
            Finding("configuration", "fail", exc.message, "fix the variables named above; the server refuses to start")
        ]
    else:
        findings = [Finding("configuration", "pass", "the server would start with these settings")]
        findings += run_checks(settings, url=args.url, replicas=args.replicas)
    if args.compose is not None:
        findings += compose_checks(args.compose)
    _report(findings, as_json=args.json)
    return 1 if any(f.status == "fail" for f in findings) else 0


def run_checks(
    settings: Settings, *, url: str | None = None, replicas: int = 1, env_file: Path = Path(".env")
) -> list[Finding]:
    """Every checklist item for `settings`; `url` is where the live checks look (default: the public URL)."""
    local: list[Callable[[Settings], Finding]] = [
        _auth_mode,
        _cookie_secret,
        _bootstrap_password,
        _cookies,
        _cors,
        _bind_address,
        _dashboard,
        _rate_limit,
        _log_level,
        _tracing,
    ]
    findings = [_env_file(env_file)] + [check(settings) for check in local]
    findings.append(_connections(settings, replicas))
    findings += _backups(settings)
    findings += _live(url or settings.public_base_url)
    return findings


# ---- configuration ----------------------------------------------------------------------------------------


def _mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _env_file(path: Path) -> Finding:
    if not path.is_file():
        return Finding(".env permissions", "pass", f"no {path} file (settings come from the environment)")
    mode = _mode_of(path)
    if mode & 0o077:
        return Finding(
            ".env permissions",
            "warn",
            f"{path} (mode {mode:04o}) is readable by group or others and may hold secrets",
            f"chmod 600 {path}",
        )
    return Finding(".env permissions", "pass", f"{path} is private (mode {mode:04o})")


def _auth_mode(s: Settings) -> Finding:
    if s.auth_mode is AuthMode.NONE:
        return Finding(
            "auth mode",
            "fail",
            "NOVAMEM_AUTH_MODE=none: anyone who reaches the port owns every memory",
            "set NOVAMEM_AUTH_MODE=user (accounts and per-user tokens)",
        )
    if s.auth_mode is AuthMode.BEARER:
        token = s.auth_token.get_secret_value() if s.auth_token else ""
        if is_placeholder_secret(token):
            return Finding("auth mode", "fail", "NOVAMEM_AUTH_TOKEN is a placeholder", f"generate one: {_GENERATE}")
        return Finding(
            "auth mode",
            "warn",
            "NOVAMEM_AUTH_MODE=bearer: one shared token, no per-user or project-scoped tokens, no rotation",
            "use NOVAMEM_AUTH_MODE=user with project-scoped nm_ tokens",
        )
    return Finding("auth mode", "pass", f"NOVAMEM_AUTH_MODE={s.auth_mode.value}")


def _cookie_secret(s: Settings) -> Finding:
    name = "cookie secret"
    if not s.auth_mode.has_accounts:
        return Finding(name, "pass", f"not used in {s.auth_mode.value} mode")
    if s.cookie_secret is not None:
        return Finding(
            name, "pass", f"NOVAMEM_COOKIE_SECRET is set ({len(s.cookie_secret.get_secret_value())} characters)"
        )
    path = s.data_dir / "cookie-secret"
    if not path.is_file():
        return Finding(name, "pass", f"generated privately into {path} at the first start")
    mode = _mode_of(path)
    if mode & 0o077:
        return Finding(name, "fail", f"{path} (mode {mode:04o}) is readable by group or others", f"chmod 600 {path}")
    if len(path.read_text().strip()) < 32:
        return Finding(
            name, "fail", f"{path} holds fewer than 32 characters", f"set NOVAMEM_COOKIE_SECRET: {_GENERATE}"
        )
    return Finding(name, "pass", f"generated secret in {path} (mode {mode:04o})")


def _bootstrap_password(s: Settings) -> Finding:
    if s.bootstrap_admin_password is None:
        return Finding("bootstrap password", "pass", "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD is not set")
    return Finding(
        "bootstrap password",
        "warn",
        "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD is still set; it is only needed for the very first start",
        "remove it from the environment and .env once the admin exists",
    )


def _public_facing(s: Settings) -> bool:
    base_host = urlsplit(s.public_base_url).hostname or ""
    return not is_loopback_host(s.host) or not is_loopback_host(base_host)


def _cookies(s: Settings) -> Finding:
    if not s.auth_mode.has_accounts:
        return Finding("cookie flags", "pass", f"no session cookies in {s.auth_mode.value} mode")
    if not s.insecure_cookies:
        return Finding("cookie flags", "pass", "session cookies are Secure, HttpOnly")
    status: Status = "fail" if _public_facing(s) else "warn"
    return Finding(
        "cookie flags",
        status,
        f"NOVAMEM_INSECURE_COOKIES=1: session cookies lack Secure (public URL {s.public_base_url})",
        "serve over TLS at a reverse proxy and unset NOVAMEM_INSECURE_COOKIES",
    )


def _cors(s: Settings) -> Finding:
    origins = [o.strip() for o in s.cors_origins.split(",") if o.strip()]
    if "*" in origins and s.auth_mode.has_accounts:
        return Finding(
            "CORS", "fail", "NOVAMEM_CORS_ORIGINS=* with user accounts", "list the exact https origins of your web apps"
        )
    if "*" in origins:
        return Finding("CORS", "warn", "NOVAMEM_CORS_ORIGINS=*: any web page may call the API", "list exact origins")
    plain = [o for o in origins if o != "self" and urlsplit(o).scheme != "https" and not _local_origin(o)]
    if plain:
        return Finding(
            "CORS",
            "warn",
            f"plain-HTTP origins allowed: {', '.join(plain)}",
            "allow only https:// origins (http is fine for localhost)",
        )
    return Finding("CORS", "pass", f"allow-list: {', '.join(origins) or 'same origin only'}")


def _local_origin(origin: str) -> bool:
    return is_loopback_host(urlsplit(origin).hostname or "")


def _bind_address(s: Settings) -> Finding:
    if is_loopback_host(s.host):
        return Finding("bind address", "pass", f"NOVAMEM_HOST={s.host} (loopback only)")
    proxies = f"; trusted proxies {s.trusted_proxies}" if s.trusted_proxies else "; NOVAMEM_TRUSTED_PROXIES is empty"
    return Finding(
        "bind address",
        "warn",
        f"NOVAMEM_HOST={s.host} accepts connections from the network{proxies}",
        "with a reverse proxy on this machine bind NOVAMEM_HOST=127.0.0.1; in a container publish the port "
        "to the proxy only and set NOVAMEM_TRUSTED_PROXIES",
    )


def _dashboard(s: Settings) -> Finding:
    if not s.auth_mode.has_accounts:
        return Finding("dashboard", "pass", f"no dashboard in {s.auth_mode.value} mode")
    if s.admin_dashboard:
        return Finding("dashboard", "pass", "on (NOVAMEM_ADMIN_DASHBOARD=0 turns /admin and metrics off if unused)")
    return Finding("dashboard", "pass", "off (NOVAMEM_ADMIN_DASHBOARD=0)")


def _rate_limit(s: Settings) -> Finding:
    if s.rate_limit_per_minute == 0:
        return Finding(
            "rate limit",
            "warn",
            "NOVAMEM_RATE_LIMIT_PER_MINUTE=0: no per-IP request limit",
            "set NOVAMEM_RATE_LIMIT_PER_MINUTE (default 600)",
        )
    return Finding("rate limit", "pass", f"{s.rate_limit_per_minute} requests per minute per client IP")


def _log_level(s: Settings) -> Finding:
    if s.log_level is LogLevel.DEBUG:
        return Finding("log level", "warn", "NOVAMEM_LOG_LEVEL=debug", "use info in production")
    return Finding("log level", "pass", f"{s.log_level.value}, JSON lines on stdout")


def _tracing(s: Settings) -> Finding:
    url = s.otel_traces_url
    if not url:
        return Finding(
            "tracing (OTLP)", "warn", "no OTLP endpoint: no traces exported", "set OTEL_EXPORTER_OTLP_ENDPOINT"
        )
    problem = endpoint_exposure(url)
    if problem:
        return Finding("tracing (OTLP)", "warn", f"the OTLP endpoint {problem}", "use an https:// collector")
    return Finding("tracing (OTLP)", "pass", f"traces exported to {urlsplit(url).hostname}")


# ---- database and backups ---------------------------------------------------------------------------------


def _connections(s: Settings, replicas: int) -> Finding:
    name = "database connections"
    try:
        limits = database_connection_limits(s)
    except NovamemError as exc:
        return Finding(name, "skipped", f"database not reachable: {exc.message}")
    if limits is None:
        return Finding(name, "skipped", "the embedded database is not running (start the server)")
    needed = connections_needed(s.pg_pool_max, replicas)
    seen = f"pool {s.pg_pool_max} x {replicas} replica(s) + headroom = {needed}; the database allows {limits.available}"
    if needed > limits.available:
        fit = largest_safe_pool(limits, replicas)
        return Finding(
            name,
            "fail",
            seen,
            f"set NOVAMEM_PG_POOL_MAX to at most {fit}" if fit >= 1 else "raise max_connections in PostgreSQL",
        )
    return Finding(name, "pass", seen)


def _backups(s: Settings) -> list[Finding]:
    backup_service = build_backups(s)
    directory, found = backup_service.directory, backup_service.existing()
    if not found:
        return [
            Finding(
                "backups", "fail", f"no backups in {directory}", "run `novamem backup` nightly (docs/operations.md)"
            ),
            Finding("backup verified", "fail", "nothing to verify", "run `novamem backup --verify` after each backup"),
        ]
    now = datetime.now(UTC)
    newest = found[0]
    age = now - newest.created_at
    seen = f"newest {newest.dump.name}, {_age(age)} old"
    backups = (
        Finding("backups", "warn", seen, "run `novamem backup` nightly (docs/operations.md)")
        if age > BACKUP_MAX_AGE
        else Finding("backups", "pass", f"{seen} ({len(found)} in {directory})")
    )
    record, at = newest.verification, newest.verified_at
    if record is None or at is None:
        verified = Finding(
            "backup verified", "warn", f"{newest.dump.name} was never verified", "run `novamem backup --verify`"
        )
    elif not record.get("ok"):
        problems = "; ".join(str(p) for p in record.get("problems", []))[:300]
        verified = Finding(
            "backup verified",
            "fail",
            f"verifying {newest.dump.name} failed: {problems}",
            "investigate, then back up again",
        )
    elif now - at > BACKUP_MAX_AGE:
        verified = Finding(
            "backup verified", "warn", f"last verified {_age(now - at)} ago", "run `novamem backup --verify`"
        )
    else:
        verified = Finding("backup verified", "pass", f"{newest.dump.name} restored and matched {_age(now - at)} ago")
    return [backups, verified]


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


# ---- the running deployment -------------------------------------------------------------------------------


def _live(base: str) -> list[Finding]:
    url = base.rstrip("/") + "/live"
    try:
        response = httpx.get(url, timeout=5, follow_redirects=False)
    except httpx.HTTPError as exc:
        note = f"{url} did not answer ({type(exc).__name__}); is the server running? (--url sets the address)"
        return [Finding(name, "skipped", note) for name in ("server reachable", "TLS and HSTS", "security headers")]
    findings = [Finding("server reachable", "pass", f"GET {url} answered {response.status_code}")]
    findings.append(tls_finding(base, response.headers.get("strict-transport-security")))
    missing = [h for h in _SECURITY_HEADERS if h not in response.headers]
    if missing:
        findings.append(
            Finding("security headers", "fail", f"missing: {', '.join(missing)}", "do not strip them at the proxy")
        )
    else:
        findings.append(Finding("security headers", "pass", "nosniff, X-Frame-Options and Referrer-Policy present"))
    return findings


def tls_finding(base: str, hsts: str | None) -> Finding:
    """TLS as a browser meets it at `base`: https with HSTS passes; plain HTTP is tolerated on loopback only."""
    name = "TLS and HSTS"
    if urlsplit(base).scheme == "https" and hsts:
        return Finding(name, "pass", f"https with Strict-Transport-Security: {hsts}")
    if urlsplit(base).scheme == "https":
        return Finding(
            name,
            "warn",
            "https, but no Strict-Transport-Security header",
            "set NOVAMEM_TRUSTED_PROXIES to the proxy's address and have it send X-Forwarded-Proto: https",
        )
    if is_loopback_host(urlsplit(base).hostname or ""):
        return Finding(
            name,
            "warn",
            f"plain HTTP at {base} (loopback only)",
            "put a TLS reverse proxy in front; check it with --url",
        )
    return Finding(
        name,
        "fail",
        f"plain HTTP to a non-loopback address ({base})",
        "terminate TLS at a reverse proxy and set NOVAMEM_BASE_URL to the https origin",
    )


# ---- output -------------------------------------------------------------------------------------------------


def _report(findings: list[Finding], *, as_json: bool) -> None:
    summary = {status: sum(f.status == status for f in findings) for status in ("pass", "warn", "fail", "skipped")}
    if as_json:
        print(json.dumps({"checks": [asdict(f) for f in findings], "summary": summary}, indent=2))  # noqa: T201
        return
    width = max(len(f.check) for f in findings)
    for f in findings:
        label = "SKIP" if f.status == "skipped" else f.status.upper()
        line = f"{label:<5} {f.check:<{width}}  {f.detail}"
        print(line + (f"  -> fix: {f.fix}" if f.fix and f.status in ("warn", "fail") else ""))  # noqa: T201
    print(  # noqa: T201
        f"\n{summary['pass']} passed, {summary['warn']} warning(s), {summary['fail']} failed, "
        f"{summary['skipped']} skipped"
    )
