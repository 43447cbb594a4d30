"""A psycopg cursor that wraps every statement in a span; installed only when tracing is on.

A span is named by a short summary of the statement (`SELECT memory_entries`): its operation and first
table. Neither the statement text nor any parameter is ever recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any, Self

from opentelemetry.trace import SpanKind
from psycopg import AsyncCursor, sql
from psycopg.abc import Params, Query
from psycopg.rows import DictRow

from novamem.observability import tracing

__all__ = ["TracedCursor", "statement_summary"]

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_OPERATION = re.compile(r"\s*\(?\s*([A-Za-z]+)")
_TARGET = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+(?:ONLY\s+|IF\s+(?:NOT\s+)?EXISTS\s+)?([A-Za-z_][\w.]*)", re.I
)
_WORDS_BEFORE_TABLE = {"SELECT", "LATERAL"}


@lru_cache(maxsize=1024)
def _summarise(text: str) -> tuple[str, str | None]:
    text = _COMMENTS.sub(" ", text)
    found = _OPERATION.match(text)
    operation = found.group(1).upper() if found else "SQL"
    target = next((m.group(1) for m in _TARGET.finditer(text) if m.group(1).upper() not in _WORDS_BEFORE_TABLE), None)
    return operation, target


def statement_summary(query: object) -> tuple[str, str | None]:
    """(operation, first table or None) of a statement: `("SELECT", "memory_entries")`; no values."""
    if isinstance(query, bytes):
        query = query.decode("utf-8", "replace")
    elif isinstance(query, sql.Composable):
        # the SQL pieces only: identifiers and literals composed into it are never looked at
        query = "".join(_sql_parts(query))
    if not isinstance(query, str):
        return "SQL", None
    return _summarise(query)


def _sql_parts(query: sql.Composable) -> list[str]:
    if isinstance(query, sql.SQL):
        return [query.as_string()]
    if isinstance(query, sql.Composed):
        return [text for item in query for text in _sql_parts(item)]
    return ["?"]


def _span(query: object, batch: int | None = None) -> AbstractContextManager[Any]:
    operation, table = statement_summary(query)
    name = f"{operation} {table}" if table else operation
    attributes: dict[str, Any] = {
        "db.system": "postgresql",
        "db.system.name": "postgresql",
        "db.operation.name": operation,
        "db.query.summary": name,
    }
    if table:
        attributes["db.collection.name"] = table
    if batch is not None:
        attributes["db.operation.batch.size"] = batch
    return tracing.span(name, kind=SpanKind.CLIENT, attributes=attributes)


class TracedCursor(AsyncCursor[DictRow]):
    """`AsyncCursor` with a client span around `execute` and `executemany`."""

    async def execute(
        self, query: Query, params: Params | None = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Self:
        with _span(query):
            # psycopg's own overloads: a template query (Python 3.14 t-string) carries its values itself
            if params is None:
                await super().execute(query, prepare=prepare, binary=binary)
            elif isinstance(query, str | bytes | sql.SQL | sql.Composed):
                await super().execute(query, params, prepare=prepare, binary=binary)
            else:
                raise TypeError("a template query carries its own values and takes no params")
        return self

    async def executemany(self, query: Query, params_seq: Iterable[Params], *, returning: bool = False) -> None:
        rows = params_seq if isinstance(params_seq, list | tuple) else list(params_seq)
        with _span(query, batch=len(rows)):
            await super().executemany(query, rows, returning=returning)
