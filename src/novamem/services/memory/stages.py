"""The optional retrieval stages around fusion: cross-encoder reranking and query decomposition.

Without a reranker or a decomposer each stage passes its input through, so the read path calls them
unconditionally. With decomposition the original question and each sub-query are ranked (fused,
prior-adjusted, diversified) on their own, the rankings are joined by reciprocal-rank fusion, the union
is reranked against the original question, and the result is diversified again down to `k`.

`degraded` is set only when a stage the request asked for failed and the answer is not empty: a
fallback that found nothing is "nothing there", never a 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from novamem.domain.entries import MemoryEntry
from novamem.domain.ranking import diversify
from novamem.services.memory.decompose import QueryDecomposer, rrf_union
from novamem.services.memory.rerank import Reranker

__all__ = ["Ranker", "RetrievalStages"]

# one query's ranked, diversified candidates and its degraded flag; the second argument is `rerank`
Ranker = Callable[[str, bool | None], Awaitable[tuple[list[MemoryEntry], bool]]]


class RetrievalStages:
    """Reranking and decomposition as configured (either may be absent)."""

    def __init__(self, reranker: Reranker | None = None, decomposer: QueryDecomposer | None = None) -> None:
        self._reranker = reranker
        self._decomposer = decomposer

    async def rerank(
        self, query: str, ranked: list[MemoryEntry], k: int, asked: bool | None
    ) -> tuple[list[MemoryEntry], bool]:
        """`ranked` re-ordered by the reranker (unchanged without one), and whether it failed."""
        if self._reranker is None:
            return ranked, False
        return await self._reranker.reorder(query, ranked, k, asked)

    async def recall(
        self, query: str, k: int, ranked: Ranker, *, rerank: bool | None, decompose: bool, diversity: float
    ) -> tuple[list[MemoryEntry], bool]:
        """The best `k` for `query`, decomposed when asked and configured; `ranked` ranks one query."""
        if not decompose or self._decomposer is None:
            return await ranked(query, rerank)
        queries = await self._decomposer.split(query)
        if queries is None or len(queries) == 1:
            chosen, degraded = await ranked(query, rerank)
            return chosen, degraded or (queries is None and bool(chosen))
        answers = await asyncio.gather(*(ranked(q, False) for q in queries))
        union = rrf_union([found for found, _ in answers])
        union, failed = await self.rerank(query, union, k, rerank)
        chosen = diversify(union, lambda e: e.content, k, diversity)
        return chosen, failed or any(degraded for _, degraded in answers)

    async def close(self) -> None:
        """Release the stages' connections."""
        if self._reranker is not None:
            await self._reranker.close()
        if self._decomposer is not None:
            await self._decomposer.close()
