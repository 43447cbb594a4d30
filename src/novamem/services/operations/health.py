"""Readiness for anonymous probes (a boolean) and dependency detail for admins.

The warm tier is PostgreSQL; the cold tier (vectors) lives in the same PostgreSQL through pgvector,
so its check is a vector query there. There is no separate graph store (edges are rows), so `graph`
is always "disabled". Each check has its own deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.error_messages import UNAUTHORIZED
from novamem.errors import Unauthenticated, Unavailable
from novamem.services.memory.index_sync import IndexSync
from novamem.services.memory.memories import EmbedderState
from novamem.services.operations.admin import metrics_reach, require_admin
from novamem.services.operations.metrics import MetricsService
from novamem.services.operations.models import HealthDeep, HealthDeps
from novamem.storage.operations import HealthProbe

__all__ = ["DEFAULT_DEADLINE_S", "HealthService"]

log = logging.getLogger("novamem.health")

DEFAULT_DEADLINE_S = 5.0
_PROBE_TEXT = "novamem health check"

Status = Literal["ok", "unreachable", "failing"]


class HealthService:
    """`ready()` for /ready and /health; `deep(caller)` for /v1/admin/health/deep and `admin_health`."""

    def __init__(
        self,
        probe: HealthProbe,
        embedder: EmbedderState,
        metrics: MetricsService,
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        indexes: IndexSync | None = None,
        extraction: bool = False,
    ) -> None:
        """`indexes`: the derived indexes fed through the outbox (Qdrant, FalkorDB), when any is enabled;
        `extraction`: LLM fact extraction is enabled (its backlog is reported)."""
        self._probe = probe
        self._extraction = extraction
        self._indexes = indexes
        self._embedder = embedder
        self._metrics = metrics
        self._deadline = deadline_s

    async def _check(self, check: Callable[[], Awaitable[bool]], name: str) -> Status:
        try:
            answered = await asyncio.wait_for(check(), timeout=self._deadline)
        except (TimeoutError, Unavailable):
            return "unreachable"
        except Exception:  # a health check reports any other failure as its answer
            log.exception("health check %s failed", name)
            return "failing"
        return "ok" if answered else "unreachable"

    async def _tiers(self) -> tuple[Status, Status]:
        warm, cold = await asyncio.gather(
            self._check(self._probe.ping, "warm"), self._check(self._probe.vector_ping, "cold")
        )
        return warm, cold

    async def ready(self) -> bool:
        """The warm and cold tiers both answer within the deadline."""
        warm, cold = await self._tiers()
        return warm == "ok" and cold == "ok"

    async def _embedder_status(self) -> Literal["ok", "failing", "disabled"]:
        if self._embedder.embedder is None:
            return "disabled"
        try:
            vector = await asyncio.wait_for(self._embedder.query(_PROBE_TEXT), timeout=self._deadline)
        except TimeoutError:
            return "failing"
        return "ok" if vector is not None else "failing"

    async def _index_status(self) -> dict[str, Literal["ok", "unreachable"]]:
        """Each enabled derived index and whether it answers within the deadline (a down one degrades search)."""
        if self._indexes is None:
            return {}
        try:
            answers = await asyncio.wait_for(self._indexes.sink_health(), timeout=self._deadline)
        except TimeoutError:
            return dict.fromkeys(self._indexes.targets, "unreachable")
        return {target: "ok" if up else "unreachable" for target, up in answers.items()}

    async def deep(self, caller: Caller) -> HealthDeep:
        """Each dependency's state, the embedding backlog and (extraction on) the fact-extraction backlog.

        `ok` is false when the warm or cold tier is down; a failing embedder makes the status `degraded` but
        never flips `ok` (search still answers from keywords). A non-admin is told 401, as if without
        credentials: the role gate stays hidden."""
        if not caller.is_admin:
            raise Unauthenticated(UNAUTHORIZED)
        require_admin(caller)
        (warm, cold), embedder, pending, indexes = await asyncio.gather(
            self._tiers(), self._embedder_status(), self._metrics.pending_embeddings(caller), self._index_status()
        )
        ok = warm == "ok" and cold == "ok"
        indexes_ok = all(state == "ok" for state in indexes.values())
        debt = await self._metrics.extraction_debt(caller) if self._extraction else None
        return HealthDeep(
            ok=ok,
            status="ok" if ok and embedder != "failing" and indexes_ok else "degraded",
            indexes=indexes,
            pending_index=await self._metrics.pending_index(metrics_reach(caller)) if indexes else None,
            # the contract knows only ok|unreachable for the warm tier
            deps=HealthDeps(
                warm="ok" if warm == "ok" else "unreachable",
                cold=cold,
                graph=indexes.get("graph", "disabled"),  # FalkorDB when it is the graph store
                embedder=embedder,
            ),
            pending_embeddings=pending,
            pending_extractions=debt.pending if debt is not None else None,
            oldest_extraction_owed_at=iso(debt.oldest_owed_at) if debt is not None else None,
            failing_extractions=debt.failing if debt is not None else None,
        )
