"""onnxruntime's quantization tools, as far as `embedding/builtin.py` converts the built-in model with them."""

from enum import Enum
from pathlib import Path

class QuantType(Enum):
    QInt8 = 0
    QUInt8 = 1

def quantize_dynamic(
    model_input: str | Path,
    model_output: str | Path,
    *,
    per_channel: bool = False,
    weight_type: QuantType = ...,
    nodes_to_exclude: list[str] | None = None,
) -> None: ...
