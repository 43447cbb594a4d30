"""Start-up checks beyond what Settings validators can see: database capacity and the warnings logged
when a server starts.

Refusals that need only the settings are validators in `config.py`; the ones here need the database
(`check_pool_capacity`) or only warn (`startup_warnings`): the server starts, and says what to fix.
`novamem doctor` reports the same findings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from novamem.config import LogLevel, Settings, endpoint_exposure, is_loopback_host
from novamem.errors import ConfigError

__all__ = [
    "CONNECTION_HEADROOM",
    "CONNECTIONS_PER_REPLICA_BEYOND_POOL",
    "ConnectionLimits",
    "check_pool_capacity",
    "connections_needed",
    "largest_safe_pool",
    "log_startup_warnings",
    "startup_warnings",
]

log = logging.getLogger("novamem.startup")

# Besides its pool, each replica holds the quick-query connection and the jobs leader-lock connection.
CONNECTIONS_PER_REPLICA_BEYOND_POOL = 2
# Left free for `novamem` commands (token, backup), a migration and an operator's psql.
CONNECTION_HEADROOM = 3


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What the database allows: `max_connections` minus the slots reserved for superusers and roles."""

    max_connections: int
    reserved: int

    @property
    def available(self) -> int:
        return max(0, self.max_connections - self.reserved)


def connections_needed(pool_max: int, replicas: int = 1) -> int:
    """Connections `replicas` servers with pools of `pool_max` can open at once, plus headroom."""
    return replicas * (pool_max + CONNECTIONS_PER_REPLICA_BEYOND_POOL) + CONNECTION_HEADROOM


def largest_safe_pool(limits: ConnectionLimits, replicas: int = 1) -> int:
    """The biggest NOVAMEM_PG_POOL_MAX that fits `limits` with `replicas` servers (may be < 1: nothing fits)."""
    return (limits.available - CONNECTION_HEADROOM) // max(1, replicas) - CONNECTIONS_PER_REPLICA_BEYOND_POOL


def check_pool_capacity(settings: Settings, limits: ConnectionLimits) -> None:
    """Refuse a pool one server alone could not fill: under load, requests would fail on connect."""
    needed = connections_needed(settings.pg_pool_max)
    if needed <= limits.available:
        return
    fit = largest_safe_pool(limits)
    fix = (
        f"lower NOVAMEM_PG_POOL_MAX to at most {fit}" if fit >= 1 else "lower NOVAMEM_PG_POOL_MAX"
    ) + " or raise max_connections in the database's configuration"
    raise ConfigError(
        f"NOVAMEM_PG_POOL_MAX={settings.pg_pool_max} needs {needed} database connections "
        f"(the pool, {CONNECTIONS_PER_REPLICA_BEYOND_POOL} more per server and {CONNECTION_HEADROOM} spare), "
        f"but the database allows {limits.available} (max_connections {limits.max_connections} minus "
        f"{limits.reserved} reserved); {fix}"
    )


def startup_warnings(settings: Settings) -> list[str]:
    """Unsafe settings the server tolerates, each naming the variable and the fix (pure but for DNS)."""
    found: list[str] = []
    public_bind = not is_loopback_host(settings.host)
    if settings.auth_mode.has_accounts and settings.insecure_cookies and public_bind:
        found.append(
            f"NOVAMEM_INSECURE_COOKIES=1 while bound to {settings.host}: session cookies travel without "
            "Secure; serve over TLS at a reverse proxy and unset NOVAMEM_INSECURE_COOKIES"
        )
    if settings.auth_mode.has_accounts and "*" in [o.strip() for o in settings.cors_origins.split(",")]:
        found.append(
            f"NOVAMEM_CORS_ORIGINS=* with NOVAMEM_AUTH_MODE={settings.auth_mode.value}: any web page may call "
            "the API; list the exact origins of your web apps instead"
        )
    if settings.log_level is LogLevel.DEBUG and public_bind:
        found.append(
            f"NOVAMEM_LOG_LEVEL=debug while bound to {settings.host}: debug logs are large and detailed; "
            "use info in production"
        )
    otlp = settings.otel_traces_url
    if otlp:
        problem = endpoint_exposure(otlp)
        if problem is not None:
            variable = (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
                if settings.otel_exporter_otlp_traces_endpoint
                else "OTEL_EXPORTER_OTLP_ENDPOINT"
            )
            found.append(
                f"{variable} {problem}; traces (routes, timings) would cross the internet unencrypted, use https://"
            )
    return found


def log_startup_warnings(settings: Settings) -> list[str]:
    """Log each of `startup_warnings` once at WARNING; returns them."""
    found = startup_warnings(settings)
    for line in found:
        log.warning("unsafe setting: %s", line)
    return found
