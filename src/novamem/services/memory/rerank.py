"""Cross-encoder reranking of a search's best fused candidates, falling back to the fused order.

The reranker scores the top `k × pool multiplier` candidates against the query; scored candidates move
ahead of unscored ones in score order and their `score` becomes the reranker's (with a `rerank` signal).
When the reranker is down, slower than its timeout, or answers garbage, the fused order stands and the
answer is marked degraded: the caller asked for a better order and did not get it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from opentelemetry.trace import Span

from novamem.domain.entries import MemoryEntry
from novamem.errors import Unavailable
from novamem.observability import tracing

__all__ = ["RERANK_WARN_EVERY_S", "RerankScorer", "Reranker"]

log = logging.getLogger("novamem.rerank")
RERANK_WARN_EVERY_S = 60.0


class RerankScorer(Protocol):
    """A cross-encoder: relevance per document index for one query."""

    async def scores(self, query: str, documents: Sequence[str]) -> dict[int, float]:
        """Scores by index (possibly fewer than sent); raises Unavailable when it cannot answer."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class Reranker:
    """Re-orders fused candidates with a cross-encoder, within a time limit."""

    def __init__(self, scorer: RerankScorer, *, pool_multiplier: int, timeout_s: float) -> None:
        self._scorer = scorer
        self._pool_multiplier = pool_multiplier
        self._timeout_s = timeout_s
        self._warned_at = 0.0
        self._failures = 0

    async def reorder(
        self, query: str, ranked: list[MemoryEntry], k: int, asked: bool | None
    ) -> tuple[list[MemoryEntry], bool]:
        """`ranked` with its best `k × multiplier` entries in the reranker's order, and whether it failed.

        `asked` is the request's `rerank`: absent or true reranks (the server has a reranker), false opts out.
        """
        if asked is False or not ranked:
            return ranked, False
        pool = ranked[: k * self._pool_multiplier]
        with tracing.span("rerank", attributes={"novamem.rerank.documents": len(pool)}) as span:
            try:
                async with asyncio.timeout(self._timeout_s):
                    scores = await self._scorer.scores(query, [e.content for e in pool])
            except Unavailable as exc:
                return ranked, self._failed(exc.message, span)
            except TimeoutError:
                return ranked, self._failed(f"no answer within {self._timeout_s * 1000:.0f} ms", span)
        order = sorted(scores, key=lambda i: (-scores[i], i))
        for i in order:
            entry = pool[i]
            entry.score = scores[i]
            entry.signals = {**entry.signals, "rerank": round(scores[i], 6)}
        unscored = [e for i, e in enumerate(pool) if i not in scores]
        return [pool[i] for i in order] + unscored + ranked[len(pool) :], False

    def _failed(self, why: str, span: Span | None) -> bool:
        """Record a failure on the span and in the log (at most once a minute, with how many happened since
        the last line); True, the answer's degraded flag."""
        if span is not None:
            span.set_attribute("novamem.rerank.failure", why)
        self._failures += 1
        if time.monotonic() - self._warned_at > RERANK_WARN_EVERY_S:
            self._warned_at = time.monotonic()
            log.warning("reranker failed (%s); kept the fused order (%d failures)", why, self._failures)
            self._failures = 0
        return True

    async def close(self) -> None:
        """Release the scorer's connections."""
        await self._scorer.close()
