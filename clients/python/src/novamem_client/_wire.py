"""JSON on the wire ⇄ Python values: camelCase keys become snake_case dataclass fields.

Result types are plain frozen dataclasses; `decode` builds them from their annotations, so each type is
declared once and never parsed by hand. Unknown keys are ignored (newer servers may add fields);
free-form objects (`metadata`, `detail`) are kept as they arrived.
"""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

__all__ = ["MalformedAnswer", "camel", "decode", "wire_body"]

T = TypeVar("T")

_UPPER = re.compile(r"_([a-z0-9])")


class MalformedAnswer(Exception):
    """The server's JSON does not have the shape of the expected result."""


def camel(name: str) -> str:
    """`source_ref` → `sourceRef`."""
    return _UPPER.sub(lambda m: m.group(1).upper(), name)


def wire_body(**fields: Any) -> dict[str, Any]:
    """A JSON object from keyword arguments: camelCase keys, `None` values left out (not given),
    datetimes as ISO-8601, tuples and other sequences as lists."""
    return {camel(name): _jsonable(value) for name, value in fields.items() if value is not None}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to novamem need a time zone (for example datetime.now(timezone.utc))")
        return value.isoformat()
    if isinstance(value, (tuple, frozenset, set)):
        return list(value)
    return value


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:  # resolved once per result type (the annotations are strings)
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def decode(tp: Any, value: Any) -> Any:
    """`value` (parsed JSON) as an instance of the type expression `tp`; raises `MalformedAnswer`."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                return decode(option, value)
    if origin is list:
        if not isinstance(value, list):
            raise MalformedAnswer(f"expected a list, got {type(value).__name__}")
        (item,) = get_args(tp)
        return [decode(item, v) for v in value]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise MalformedAnswer(f"expected an object, got {type(value).__name__}")
        _, item = get_args(tp)
        return {str(k): decode(item, v) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _decode_dataclass(tp, value)
    return _decode_scalar(tp, value)


def _decode_dataclass(cls: type[Any], value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise MalformedAnswer(f"expected an object for {cls.__name__}, got {type(value).__name__}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = camel(f.name) if camel(f.name) in value else f.name
        if key in value:
            kwargs[f.name] = decode(hints[f.name], value[key])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise MalformedAnswer(f"{cls.__name__} without {camel(f.name)!r}")
    return cls(**kwargs)


def _decode_scalar(tp: Any, value: Any) -> Any:
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool):
        raise MalformedAnswer("expected a number, got a boolean")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise MalformedAnswer(f"expected {tp.__name__}, got {type(value).__name__}")
    return value
