"""The Embedder contract, and the cross-request batcher that feeds any embedder."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol, TypeVar

from opentelemetry.context import Context
from opentelemetry.trace import Link, get_current_span

from novamem.observability import tracing

__all__ = ["BatchingQueue", "Embedder", "similar_length_groups"]

log = logging.getLogger("novamem.embedding")


class Embedder(Protocol):
    """Turns texts into unit vectors; raises `Unavailable` when it cannot."""

    model_id: str
    dim: int

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...
    async def embed_query(self, text: str) -> list[float]: ...
    async def close(self) -> None: ...


BatchFn = Callable[[list[str]], Awaitable[list[list[float]]]]
# a queued text, its caller's future and its caller's trace context (None when tracing is off)
_Pending = tuple[str, asyncio.Future[list[float]], Context | None]
T = TypeVar("T")
# Characters a group's longest text may exceed `ratio` x its shortest by: short texts differ little in tokens.
LENGTH_SLACK = 20


def similar_length_groups(items: Sequence[T], length: Callable[[T], int], ratio: float) -> list[list[T]]:
    """Items shortest first, cut into runs whose longest is at most `ratio` x the shortest (+ slack).

    A padded model pays for a batch's longest text in every row, so one long text in a batch of short
    ones can cost more than running the groups one after another.
    """
    groups: list[list[T]] = []
    for item in sorted(items, key=length):
        if groups and length(item) <= ratio * length(groups[-1][0]) + LENGTH_SLACK:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


class BatchingQueue:
    """Collects texts from concurrent requests into batches for one embedding worker.

    While a batch runs, new requests queue up; the next batch takes up to `max_batch` of them at once,
    so throughput under concurrency approaches the embedder's batched rate. With `length_ratio` set
    (for a local model that pads), each batch is run as groups of similar length.

    Texts queued with `urgent=True` (search queries) have a lane of their own that the worker serves
    first: between any two runs of document texts, every urgent text queued meanwhile runs. A query
    therefore waits for at most the one run already in flight, never for the rest of a large document
    batch (an import, the reconciler) queued before it.

    When tracing is on, each batch runs in a span (provider, batch size) parented by the trace of the
    first text's caller and linked to the other callers' traces.
    """

    def __init__(
        self, run_batch: BatchFn, max_batch: int, *, length_ratio: float | None = None, provider: str = "embedder"
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._length_ratio = length_ratio
        self._provider = provider
        self._pending: list[_Pending] = []
        self._urgent: list[_Pending] = []
        # groups of a document batch already cut, run one by one so urgent texts can go in between
        self._ready: deque[list[_Pending]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    async def embed(self, texts: Sequence[str], *, urgent: bool = False) -> list[list[float]]:
        """One vector per text, in order; `urgent` texts (queries) go ahead of queued document texts."""
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            # a fresh context: the worker serves every request, so it must not keep the first one's request id
            self._worker = asyncio.create_task(self._work(), name="novamem-embedder", context=contextvars.Context())
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in texts]
        trace_context = tracing.current_context()
        lane = self._urgent if urgent else self._pending
        lane.extend((text, fut, trace_context) for text, fut in zip(texts, futures, strict=True))
        assert self._wakeup is not None
        self._wakeup.set()
        return list(await asyncio.gather(*futures))

    async def _work(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while (batch := self._next_batch()) is not None:
                await self._run(batch)

    def _next_batch(self) -> list[_Pending] | None:
        """Urgent texts first (up to `max_batch` at once); else the next group of the document batch."""
        if self._urgent:
            batch, self._urgent = self._urgent[: self._max_batch], self._urgent[self._max_batch :]
            return batch
        if not self._ready and self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            if self._length_ratio is None:
                self._ready.append(batch)
            else:
                self._ready.extend(similar_length_groups(batch, lambda item: len(item[0]), self._length_ratio))
        return self._ready.popleft() if self._ready else None

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            with self._span(batch):
                vectors = await self._run_batch([text for text, _, _ in batch])
        except Exception as exc:  # handed to every waiting caller, who decides what it means
            for _, fut, _ in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut, _), vec in zip(batch, vectors, strict=True):
            if not fut.done():
                fut.set_result(vec)

    def _span(self, batch: list[_Pending]) -> AbstractContextManager[Any]:
        if not tracing.enabled():
            return nullcontext()
        contexts = [ctx for _, _, ctx in batch if ctx is not None]
        # the other callers' spans, once each (one caller can queue several texts)
        parent = get_current_span(contexts[0]).get_span_context() if contexts else None
        others = dict.fromkeys(get_current_span(ctx).get_span_context() for ctx in contexts[1:])
        links = [Link(span_context) for span_context in others if span_context.is_valid and span_context != parent]
        attributes = {"novamem.embedding.provider": self._provider, "novamem.embedding.batch_size": len(batch)}
        return tracing.span(
            f"embed {self._provider}", attributes=attributes, context=contexts[0] if contexts else None, links=links
        )

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
