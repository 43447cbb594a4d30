"""Small text measures shared by the write heuristics and retrieval: tokens, snippets, token cost."""

from __future__ import annotations

import math
import re

__all__ = ["STOP_WORDS", "content_tokens", "jaccard", "snippet", "token_cost"]

STOP_WORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from into onto over under about as
    is are was were be been being am do does did done have has had having it its it's this that these
    those there here i me my we our you your he she him her his they them their what which who whom
    whose when where why how all any both each few more most other some such no nor not only own same
    so than too very can will just should would could may might must shall up down out off again
    further once also""".split()
)
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


def content_tokens(text: str) -> set[str]:
    """Lower-cased word tokens without stop words."""
    tokens = {w.lower().strip("'-") for w in _WORD.findall(text)}
    tokens -= STOP_WORDS
    tokens.discard("")
    return tokens


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    common = len(a & b)  # the union's size without building it
    return common / (len(a) + len(b) - common)


def token_cost(text: str) -> int:
    """Approximate LLM token cost: one token per four UTF-16 units, rounded up."""
    return math.ceil(len(text.encode("utf-16-le")) / 2 / 4)


SNIPPET_UNITS = 240


def snippet(text: str) -> tuple[str, bool]:
    """First 240 characters cut at the last space past the midpoint, with an ellipsis; (text, truncated)."""
    if len(text) <= SNIPPET_UNITS:
        return text, False
    head = text[:SNIPPET_UNITS]
    cut = head.rfind(" ")
    if cut > SNIPPET_UNITS // 2:
        head = head[:cut]
    return head.rstrip() + "…", True
