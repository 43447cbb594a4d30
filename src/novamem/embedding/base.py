"""The Embedder contract, and the cross-request batcher that feeds any embedder."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

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
    """

    def __init__(self, run_batch: BatchFn, max_batch: int, *, length_ratio: float | None = None) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._length_ratio = length_ratio
        self._pending: list[tuple[str, asyncio.Future[list[float]]]] = []
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = asyncio.create_task(self._work(), name="novamem-embedder")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in texts]
        self._pending.extend(zip(texts, futures, strict=True))
        assert self._wakeup is not None
        self._wakeup.set()
        return list(await asyncio.gather(*futures))

    async def _work(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                if self._length_ratio is None:
                    await self._run(batch)
                    continue
                for group in similar_length_groups(batch, lambda item: len(item[0]), self._length_ratio):
                    await self._run(group)

    async def _run(self, batch: list[tuple[str, asyncio.Future[list[float]]]]) -> None:
        try:
            vectors = await self._run_batch([text for text, _ in batch])
        except Exception as exc:  # handed to every waiting caller, who decides what it means
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut), vec in zip(batch, vectors, strict=True):
            if not fut.done():
                fut.set_result(vec)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
