"""Statements composed once per shape and kept as the text psycopg sends.

A search's statements are built from `sql.Composed` parts around the caller's scope filter, and
rendering that tree again for every search cost about a millisecond of the event loop's time. Their
text depends only on the shape of the request (which filters the scope has, how many terms a query
has), never on its values, which travel as parameters. A cache entry is keyed by everything its text
is built from, the filter texts included, so one shape can never be served another shape's text.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from psycopg import sql

__all__ = ["StatementCache"]

# distinct shapes are few (scope kinds x query term counts); the bound only guards against a key that
# varies by value through a mistake
MAX_STATEMENTS = 2048


class StatementCache:
    """Rendered statement texts by shape key."""

    def __init__(self, max_entries: int = MAX_STATEMENTS) -> None:
        self._texts: dict[Hashable, bytes] = {}
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._texts)

    def get(self, key: Hashable, build: Callable[[], sql.Composable]) -> bytes:
        """The text of the statement `build` composes for `key`, composed on the key's first use."""
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= self._max:
                self._texts.clear()
            text = self._texts[key] = build().as_bytes(None)
        return text
