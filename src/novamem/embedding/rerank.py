"""A cross-encoder behind an HTTP `/rerank` endpoint (Cohere/Jina/vLLM or text-embeddings-inference shape).

The answer is checked before it is believed: a body that is not JSON, indexes out of range or repeated,
scores that are not finite numbers, or no score at all raise `Unavailable`, so the caller can keep the
order it had. Answers of either shape are read whatever shape was sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import httpx

from novamem.config import RerankFormat
from novamem.errors import Unavailable

__all__ = ["MAX_RERANK_DOCUMENT_CHARS", "HttpReranker"]

# a cross-encoder reads a few hundred tokens at most; longer texts only cost upload time
MAX_RERANK_DOCUMENT_CHARS = 4000


class HttpReranker:
    """Posts `(query, documents)` to one rerank URL; returns a relevance score per document index."""

    def __init__(
        self,
        *,
        endpoint: str,
        model: str | None,
        api_key: str | None,
        request_format: RerankFormat,
        timeout_s: float,
    ) -> None:
        self._url = endpoint
        self._model = model
        self._format = request_format
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout_s, headers=headers)

    def _payload(self, query: str, documents: list[str]) -> dict[str, Any]:
        if self._format is RerankFormat.TEI:
            return {"query": query, "texts": documents, "truncate": True}
        payload: dict[str, Any] = {"query": query, "documents": documents, "top_n": len(documents)}
        if self._model:
            payload["model"] = self._model
        return payload

    async def scores(self, query: str, documents: Sequence[str]) -> dict[int, float]:
        """Relevance per document index (possibly fewer than sent, never an unknown index).

        Raises Unavailable when the endpoint cannot be reached, refuses, or answers something unreadable.
        """
        texts = [d[:MAX_RERANK_DOCUMENT_CHARS] for d in documents]
        try:
            response = await self._client.post(self._url, json=self._payload(query, texts))
        except httpx.HTTPError as exc:
            raise Unavailable("reranker unreachable") from exc
        if response.status_code >= 400:
            raise Unavailable(f"reranker answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise Unavailable("reranker answered something that is not JSON") from exc
        return _read_scores(body, len(texts))

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _read_scores(body: Any, count: int) -> dict[int, float]:
    """`{index: score}` from `[{index, score}]` (TEI) or `{results: [{index, relevance_score}]}` (Cohere)."""
    rows = body.get("results") if isinstance(body, dict) else body
    if not isinstance(rows, list) or not rows or len(rows) > count:
        raise Unavailable("reranker answered the wrong number of results")
    found: dict[int, float] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise Unavailable("reranker answered an unreadable result")
        index = row.get("index")
        score = row.get("relevance_score", row.get("score"))
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count or index in found:
            raise Unavailable("reranker answered an index out of range or twice")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise Unavailable("reranker answered a score that is not a finite number")
        found[index] = float(score)
    return found
