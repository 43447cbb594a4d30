"""Wire models of the per-user metrics (`GET /v1/me/metrics`, `GET /v1/me/metrics/history`).

Like the admin snapshot, the counters, gauges and rates keep snake_case names (`queries_total`); a
credential's row and the history samples are camelCase like the rest of the API.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from novamem.services.operations.models import MetricsSnapshot, SnakeOut
from novamem.services.wire import Out

__all__ = [
    "AdminUserMetrics",
    "CredentialMetrics",
    "MetricsHistory",
    "MetricsSample",
    "UserMetricCounters",
    "UserMetricGauges",
    "UserMetricRates",
    "UserMetrics",
]


class UserMetricCounters(SnakeOut):
    """Counted requests (2xx answers only) since the account's first, summed over every replica."""

    queries_total: int = Field(description="search, recent, neighbors, context and context-prefix requests")
    remembers_total: int = Field(description="remember, capture and session-recap requests")
    forgets_total: int = Field(description="forget requests")


class UserMetricRates(SnakeOut):
    """Requests per second over the last 60 seconds, summed over every replica."""

    queries_per_sec_60s: float
    remembers_per_sec_60s: float


class UserMetricGauges(SnakeOut):
    """The caller's own entries by tier, counted now; null when the count failed."""

    warm_entries: int | None
    cold_entries: int | None


class CredentialMetrics(Out):
    """One credential's counted requests: a live API token of the caller, or their dashboard sessions."""

    credential: Literal["token", "session"]
    token_hash: str | None = Field(
        description="the token's SHA-256 (as `GET /v1/me/tokens` lists it); null for sessions"
    )
    label: str = Field(description='the token\'s label; "dashboard" for sessions')
    counters: UserMetricCounters
    last_used_at: str | None = Field(description="when this credential last made a counted request")


class UserMetrics(SnakeOut):
    """`GET /v1/me/metrics` for a non-admin (or an admin's restricted token): the caller's own numbers."""

    counters: UserMetricCounters
    gauges: UserMetricGauges
    rates: UserMetricRates
    uptime_ms: int = Field(description="how long the answering replica has been up")
    tokens: list[CredentialMetrics] = Field(
        description="the caller's live tokens, oldest first, then the dashboard-session row once sessions "
        "have counted requests"
    )


class AdminUserMetrics(MetricsSnapshot):
    """`GET /v1/me/metrics` for an admin: the global snapshot (`GET /v1/admin/metrics`) plus the admin's own
    per-credential rows."""

    tokens: list[CredentialMetrics] = Field(description="the admin's own rows, as for any user")
    has_my_tokens: bool = Field(alias="_hasMyTokens", description="whether the admin has any live API token")


class MetricsSample(Out):
    """Counted requests in one UTC minute (every credential of the caller)."""

    sampled_at: str = Field(description="the minute's start (UTC)")
    queries: int
    remembers: int
    forgets: int


class MetricsHistory(Out):
    """`GET /v1/me/metrics/history`: the caller's minutes with counted requests, oldest first."""

    hours: int
    samples: list[MetricsSample] = Field(
        description="one sample per minute that saw a counted request; minutes without any are absent"
    )
