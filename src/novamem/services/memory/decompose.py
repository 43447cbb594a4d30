"""Query decomposition: a chat model splits a complex question into a few simpler search queries.

The model must answer a JSON array of strings (a code fence around it is tolerated). Anything else, no
answer within the timeout, or an unreachable model counts as a failure, and the question is searched
alone. An empty array means "nothing to split", which is not a failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any, Protocol

from opentelemetry.trace import Span

from novamem.domain.entries import MemoryEntry
from novamem.errors import Unavailable
from novamem.observability import tracing

__all__ = ["DECOMP_WARN_EVERY_S", "MAX_SUBQUERY_CHARS", "RRF_K", "ChatReplier", "QueryDecomposer", "rrf_union"]

log = logging.getLogger("novamem.decompose")
DECOMP_WARN_EVERY_S = 60.0
MAX_SUBQUERY_CHARS = 512
RRF_K = 60  # the usual reciprocal-rank constant: rank 1 counts 1/61, rank 10 1/70
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_PROMPT = (
    "You turn a question about stored memories into search queries for a memory store. Answer with only a "
    "JSON array of at most {n} short, standalone search queries that together find what the question "
    "needs (one per person, event or fact it depends on). If the question is already a single simple "
    "lookup, answer []."
)


class ChatReplier(Protocol):
    """A chat model: one system + user prompt in, the reply's text out."""

    async def reply(self, system: str, user: str, *, max_tokens: int) -> str:
        """The reply; raises Unavailable when the model cannot answer."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class QueryDecomposer:
    """Asks a chat model for sub-queries, within a time limit and a count limit."""

    def __init__(self, chat: ChatReplier, *, max_subqueries: int, timeout_s: float) -> None:
        self._chat = chat
        self._max = max_subqueries
        self._timeout_s = timeout_s
        self._warned_at = 0.0
        self._failures = 0

    async def split(self, query: str) -> list[str] | None:
        """The original query followed by up to `max_subqueries` new ones (case-insensitive duplicates
        dropped); None when the model failed."""
        with tracing.span("decompose query") as span:
            try:
                async with asyncio.timeout(self._timeout_s):
                    text = await self._chat.reply(_PROMPT.format(n=self._max), query, max_tokens=64 * self._max + 32)
                found = _parse(text)
            except Unavailable as exc:
                self._failed(exc.message, span)
                return None
            except TimeoutError:
                self._failed(f"no answer within {self._timeout_s * 1000:.0f} ms", span)
                return None
            queries, seen = [query], {query.strip().casefold()}
            for sub in found:
                if sub.casefold() not in seen and len(queries) <= self._max:
                    seen.add(sub.casefold())
                    queries.append(sub)
            if span is not None:
                span.set_attribute("novamem.decompose.subqueries", len(queries) - 1)
            return queries

    def _failed(self, why: str, span: Span | None) -> None:
        """Record a failure on the span and in the log (at most once a minute, with how many happened since
        the last line)."""
        if span is not None:
            span.set_attribute("novamem.decompose.failure", why)
        self._failures += 1
        if time.monotonic() - self._warned_at > DECOMP_WARN_EVERY_S:
            self._warned_at = time.monotonic()
            log.warning("query decomposition failed (%s); searched the question alone (%d times)", why, self._failures)
            self._failures = 0

    async def close(self) -> None:
        """Release the chat model's connections."""
        await self._chat.close()


def _parse(text: str) -> list[str]:
    """The sub-queries of a reply; raises Unavailable unless it is a JSON array of strings."""
    try:
        data: Any = json.loads(_FENCE.sub("", text.strip()))
    except ValueError as exc:
        raise Unavailable("decomposition model answered something that is not JSON") from exc
    if isinstance(data, dict):
        data = data.get("queries", data.get("subqueries"))
    if not isinstance(data, list) or not all(isinstance(q, str) for q in data):
        raise Unavailable("decomposition model answered something that is not a list of queries")
    return [q.strip()[:MAX_SUBQUERY_CHARS] for q in data if q.strip()]


def rrf_union(rankings: list[list[MemoryEntry]]) -> list[MemoryEntry]:
    """One list from several rankings by reciprocal-rank fusion; `score` becomes the fused value.

    An entry keeps the first copy seen (with its signals); ties keep first-seen order.
    """
    fused: dict[str, float] = {}
    first: dict[str, MemoryEntry] = {}
    for ranking in rankings:
        for rank, entry in enumerate(ranking, start=1):
            fused[entry.id] = fused.get(entry.id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(entry.id, entry)
    order = sorted(first, key=lambda i: -fused[i])  # sorted is stable: first-seen breaks ties
    for memory_id in order:
        first[memory_id].score = fused[memory_id]
    return [first[i] for i in order]
