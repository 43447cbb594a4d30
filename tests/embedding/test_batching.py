"""The cross-request embedding queue: batches, similar-length groups and failures."""

from __future__ import annotations

import asyncio

import pytest

from novamem.embedding.base import BatchingQueue, similar_length_groups
from novamem.errors import Unavailable


def test_groups_are_sorted_and_cut_where_a_text_is_much_longer() -> None:
    texts = ["x" * 200, "y" * 30, "z" * 35, "w" * 110, "v" * 100]
    groups = similar_length_groups(texts, len, 1.5)
    assert [[len(t) for t in g] for g in groups] == [[30, 35], [100, 110], [200]]


def test_short_texts_stay_together_thanks_to_the_slack() -> None:
    assert similar_length_groups(["a", "bbbbbbbbbbbb", "cc"], len, 1.5) == [["a", "cc", "bbbbbbbbbbbb"]]
    assert similar_length_groups([], len, 1.5) == []


class Recorder:
    """A stand-in embedding function: records each batch and answers the text length as a vector."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    async def __call__(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(texts)
        await asyncio.sleep(0.01)
        if self.fail:
            raise Unavailable("embedder failed")
        return [[float(len(t))] for t in texts]


async def test_concurrent_requests_share_batches_run_as_similar_length_groups() -> None:
    run = Recorder()
    queue = BatchingQueue(run, max_batch=8, length_ratio=1.5)
    texts = ["s" * 40, "l" * 300, "m" * 45, "n" * 320]
    try:
        first = await queue.embed(["warm-up"])  # the worker starts on the first call
        results = await asyncio.gather(*(queue.embed([t]) for t in texts))
    finally:
        await queue.close()
    assert first == [[7.0]]
    assert [r[0][0] for r in results] == [40.0, 300.0, 45.0, 320.0]  # each caller gets its own vector
    assert [sorted(len(t) for t in b) for b in run.batches[1:]] == [[40, 45], [300, 320]]


async def test_without_a_length_ratio_a_batch_is_sent_whole() -> None:
    run = Recorder()
    queue = BatchingQueue(run, max_batch=8)
    try:
        await asyncio.gather(*(queue.embed([t]) for t in ["a" * 10, "b" * 500]))
    finally:
        await queue.close()
    assert [len(b) for b in run.batches] == [2]


async def test_a_failing_batch_hands_the_error_to_its_callers() -> None:
    run = Recorder(fail=True)
    queue = BatchingQueue(run, max_batch=8, length_ratio=1.5)
    try:
        with pytest.raises(Unavailable):
            await queue.embed(["x" * 50])
    finally:
        await queue.close()
