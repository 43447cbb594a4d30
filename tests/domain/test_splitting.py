"""Splitting a long text into sentence-aware pieces under the length cap."""

from __future__ import annotations

import pytest

from novamem.domain.splitting import split_text


def test_whole_sentences_are_packed_greedily() -> None:
    text = "One two three. Four five six! Seven eight nine? Ten."
    assert split_text(text, 30) == ["One two three. Four five six!", "Seven eight nine? Ten."]


def test_line_breaks_end_sentences_too() -> None:
    assert split_text("first line without a stop\nsecond line here", 30) == [
        "first line without a stop",
        "second line here",
    ]


def test_a_sentence_over_the_cap_is_cut_between_words() -> None:
    pieces = split_text("alpha beta gamma delta epsilon zeta eta theta.", 12)
    assert pieces == ["alpha beta", "gamma delta", "epsilon zeta", "eta theta."]


def test_only_a_word_over_the_cap_is_cut_inside() -> None:
    assert split_text("tiny " + "x" * 25 + " end", 10) == ["tiny", "x" * 10, "x" * 10, "xxxxx end"]


@pytest.mark.parametrize("cap", [1, 7, 50, 400])
def test_pieces_fit_and_keep_every_word_in_order(cap: int) -> None:
    text = " ".join(f"Sentence {i} has some words, and ends here." for i in range(60))
    pieces = split_text(text, cap)
    assert all(0 < len(p) <= cap for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_a_text_under_the_cap_is_one_piece() -> None:
    assert split_text("  short text.  ", 100) == ["short text."]
