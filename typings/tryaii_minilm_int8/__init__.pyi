"""The data-only package holding the built-in embedding model; it ships no type information."""

from pathlib import Path

MODEL_ID: str
SHA256: str
SIZE_BYTES: int

def model_path() -> Path: ...
