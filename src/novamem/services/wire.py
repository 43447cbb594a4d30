"""Base wire models and shared field types: camelCase on the wire, snake_case in Python.

Every area's request and result models derive from `Wire` (requests) or `Out` (results). Services return
`Out` models; every door (REST, MCP, the dashboard) renders one with `Out.to_wire()`, the one implementation
of the wire JSON (a field typed `OmitNone[...]` is left out while it is None)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "ContentMode",
    "ENTRY_ID_PATTERN",
    "EntryId",
    "NAMESPACE_ITEM",
    "Namespace",
    "NamespaceItem",
    "OmitNone",
    "Out",
    "ProjectRef",
    "SensitivityName",
    "SourceRef",
    "StrictWire",
    "Wire",
]

NAMESPACE_ITEM = re.compile(r"^[a-z0-9][a-z0-9._:-]*$")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _namespace_item(value: str) -> str:
    if not NAMESPACE_ITEM.match(value):
        raise ValueError("namespace must match ^[a-z0-9][a-z0-9._:-]*$")
    return value


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Namespace = Annotated[str, StringConstraints(min_length=1, max_length=128)]


NamespaceItem = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_namespace_item)]


ProjectRef = Annotated[str, StringConstraints(min_length=1, max_length=128)]


ENTRY_ID_PATTERN = r"^[0-9A-Za-z_-]{1,64}$"


EntryId = Annotated[str, StringConstraints(pattern=ENTRY_ID_PATTERN)]


SourceRef = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_no_control)]


SensitivityName = Literal["public", "internal", "private", "sensitive"]


ContentMode = Literal["full", "snippet", "ids"]


_T = TypeVar("_T")


def _is_none(value: object) -> bool:
    return value is None


OmitNone = Annotated[_T | None, Field(exclude_if=_is_none)]
"""A result field that is left out of the wire JSON while it is None (`OmitNone[str] = None`)."""


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_path(value: Any, path: str) -> str | None:
    """The path of the first string (or key) PostgreSQL cannot store: NUL or an unpaired surrogate."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return sub
            if (found := _unstorable_path(item, sub)) is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _unstorable_path(item, f"{path}[{i}]")) is not None:
                return found
    return None


class Wire(BaseModel):
    """Base of request models: camelCase aliases, unknown keys ignored, strict types."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        found = _unstorable_path(data, "")
        if found is not None:
            raise ValueError(f"{found} contains a NUL character or an unpaired surrogate")
        return data


class StrictWire(Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="forbid")


class Out(BaseModel):
    """Base of result models: what services return and every door renders with `to_wire()`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The wire JSON of this result (camelCase keys, `OmitNone` fields left out while None)."""
        return self.model_dump(by_alias=True, mode="json")
