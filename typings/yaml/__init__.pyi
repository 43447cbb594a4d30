# The part of PyYAML's API novamem calls (services/agents/yaml_merge.py): safe loading and dumping.
from typing import Any

__all__ = ["MarkedYAMLError", "YAMLError", "safe_dump", "safe_load"]

class YAMLError(Exception): ...

class MarkedYAMLError(YAMLError):
    problem: str | None

def safe_load(stream: str) -> Any: ...
def safe_dump(
    data: Any,
    stream: None = None,
    *,
    default_flow_style: bool | None = ...,
    allow_unicode: bool = ...,
    sort_keys: bool = ...,
    width: int | None = ...,
    indent: int | None = ...,
) -> str: ...
