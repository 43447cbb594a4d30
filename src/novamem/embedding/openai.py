"""Embeddings from any OpenAI-compatible `/embeddings` endpoint, with retries and asymmetric prefixes."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence

import httpx
from opentelemetry.trace import SpanKind, StatusCode

from novamem.embedding.base import BatchingQueue
from novamem.errors import Unavailable
from novamem.observability import tracing

__all__ = ["OpenAICompatibleEmbedder", "infer_prefixes"]

log = logging.getLogger("novamem.embedding")
MAX_INPUT_CHARS = 24000
ATTEMPTS = 3


def infer_prefixes(model: str) -> tuple[str, str]:
    """Query and document prefixes that common model families expect."""
    name = model.lower()
    if "e5" in name:
        return "query: ", "passage: "
    if "bge" in name and "m3" not in name:
        return "Represent this sentence for searching relevant passages: ", ""
    if "qwen3-embedding" in name:
        return "Instruct: Given a question, retrieve stored memories that answer it\nQuery: ", ""
    return "", ""


class OpenAICompatibleEmbedder:
    """Posts batches to `<endpoint>/embeddings`; retries transient failures, then raises Unavailable.

    Queries and documents are batched in separate lanes, each with one request in flight, so a search's
    query is posted at once even while a large document batch is being sent or retried.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        model: str,
        dim: int,
        api_key: str | None,
        timeout_s: float,
        query_prefix: str | None,
        document_prefix: str | None,
        max_batch: int,
    ) -> None:
        self.model_id = f"openai-compatible:{model}"
        self.dim = dim
        self._model = model
        self._url = endpoint.rstrip("/") + "/embeddings"
        inferred_q, inferred_d = infer_prefixes(model)
        self._qprefix = inferred_q if query_prefix is None else query_prefix
        self._dprefix = inferred_d if document_prefix is None else document_prefix
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout_s, headers=headers)
        # two lanes, each with one request in flight: a query never waits for a document batch's POST
        self._documents = BatchingQueue(self._post, max_batch, provider="openai-compatible")
        self._queries = BatchingQueue(self._post, max_batch, provider="openai-compatible")

    async def _post(self, texts: list[str]) -> list[list[float]]:
        payload: dict[str, object] = {"model": self._model, "input": [t[:MAX_INPUT_CHARS] for t in texts]}
        last: Exception | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.25 * 2 ** (attempt - 1))
            try:
                response = await self._send(payload)
            except httpx.HTTPError as exc:
                last = exc
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last = Unavailable(f"embedder answered {response.status_code}")
                continue
            if response.status_code >= 400:
                raise Unavailable(f"embedder refused the request ({response.status_code})")
            return self._parse(response, len(texts))
        raise Unavailable("embedder unavailable") from last

    async def _send(self, payload: dict[str, object]) -> httpx.Response:
        """One POST, in a client span (with the trace context sent along) when tracing is on."""
        if not tracing.enabled():
            return await self._client.post(self._url, json=payload)
        url = httpx.URL(self._url)
        attributes = {
            "http.request.method": "POST",
            "url.full": str(url.copy_with(username=None, password=None, query=None)),
            "server.address": url.host,
            "server.port": url.port or (443 if url.scheme == "https" else 80),
        }
        with tracing.span("POST", kind=SpanKind.CLIENT, attributes=attributes) as span:
            headers: dict[str, str] = {}
            tracing.inject_headers(headers)
            response = await self._client.post(self._url, json=payload, headers=headers)
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 400:
                    span.set_status(StatusCode.ERROR)
            return response

    def _parse(self, response: httpx.Response, expected: int) -> list[list[float]]:
        try:
            data = sorted(response.json()["data"], key=lambda d: d.get("index", 0))
            vectors = [[float(x) for x in d["embedding"]] for d in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable("embedder returned an unreadable body") from exc
        if len(vectors) != expected or any(len(v) != self.dim for v in vectors):
            raise Unavailable(f"embedder returned vectors of the wrong count or size (want {self.dim})")
        out = []
        for v in vectors:
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / norm for x in v])
        return out

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._documents.embed([self._dprefix + t for t in texts])

    async def embed_query(self, text: str) -> list[float]:
        return (await self._queries.embed([self._qprefix + text]))[0]

    async def close(self) -> None:
        await self._documents.close()
        await self._queries.close()
        await self._client.aclose()
