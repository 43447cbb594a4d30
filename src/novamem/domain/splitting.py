"""Splitting a text that is over the length cap into sentence-aware pieces that each fit under it."""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["split_text"]

# a sentence ends at . ! ? followed by whitespace, or at a line break
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_SPACE = re.compile(r"\s+")


def _units(sentence: str, max_chars: int) -> Iterator[str]:
    """The sentence if it fits, else runs of its words that fit; a word longer than the cap is cut."""
    if len(sentence) <= max_chars:
        yield sentence
        return
    run = ""
    for word in _SPACE.split(sentence):
        while len(word) > max_chars:  # a single word over the cap: the only cut inside a word
            if run:
                yield run
                run = ""
            yield word[:max_chars]
            word = word[max_chars:]
        if not word:
            continue
        if run and len(run) + 1 + len(word) <= max_chars:
            run += " " + word
        else:
            if run:
                yield run
            run = word
    if run:
        yield run


def split_text(text: str, max_chars: int) -> list[str]:
    """Pieces of `text` of at most `max_chars` characters each, in order, cut between sentences.

    Whole sentences are packed greedily into each piece (joined by one space); a sentence longer than the
    cap is cut between words, and only a word longer than the cap is cut inside. `max_chars` must be > 0.
    """
    assert max_chars > 0
    pieces: list[str] = []
    current = ""
    for sentence in _BOUNDARY.split(text.strip()):
        sentence = sentence.strip()
        if not sentence:
            continue
        for unit in _units(sentence, max_chars):
            if current and len(current) + 1 + len(unit) <= max_chars:
                current += " " + unit
            else:
                if current:
                    pieces.append(current)
                current = unit
    if current:
        pieces.append(current)
    return pieces
