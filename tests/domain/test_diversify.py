"""Picking the results: near-copy skipping, and maximal marginal relevance (novelty)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from novamem.domain.ranking import NOVELTY_POOL, diversify
from novamem.domain.text import content_tokens


@dataclass
class Item:
    text: str
    score: float


def pick(items: list[Item], k: int, novelty: float, threshold: float = 0.75) -> list[str]:
    chosen = diversify(items, lambda i: i.text, k, threshold, score_of=lambda i: i.score, novelty=novelty)
    return [i.text for i in chosen]


TEA = Item("Alice drinks green tea every morning before work", 1.0)
TEA_AGAIN = Item("Alice drinks green tea every morning at her desk", 0.95)
BERLIN = Item("Alice moved to Berlin in March for the new job", 0.8)


def test_without_novelty_the_order_is_the_score_order() -> None:
    assert pick([TEA, TEA_AGAIN, BERLIN], 2, 0.0) == [TEA.text, TEA_AGAIN.text]


def test_a_result_that_repeats_one_already_picked_gives_way_to_one_that_adds_something() -> None:
    assert pick([TEA, TEA_AGAIN, BERLIN], 2, 0.3) == [TEA.text, BERLIN.text]
    # every result is still listed when k allows, in the order picked
    assert pick([TEA, TEA_AGAIN, BERLIN], 3, 0.3) == [TEA.text, BERLIN.text, TEA_AGAIN.text]


def test_relevance_still_wins_over_novelty_when_the_gap_is_large() -> None:
    weak = Item("Bob once mentioned a bicycle", 0.2)
    assert pick([TEA, TEA_AGAIN, weak], 2, 0.3) == [TEA.text, TEA_AGAIN.text]


def test_near_copies_are_skipped_and_only_fill_a_short_list() -> None:
    copy = Item("Alice drinks green tea every morning before work!", 0.99)
    assert pick([TEA, copy, BERLIN], 2, 0.3) == [TEA.text, BERLIN.text]
    assert pick([TEA, copy, BERLIN], 3, 0.3) == [TEA.text, BERLIN.text, copy.text]
    assert pick([TEA, copy], 5, 0.3) == [TEA.text, copy.text]


def test_scores_below_zero_are_scaled_over_their_range() -> None:
    # a reranker's logits: the best (least negative) still comes first, and novelty still applies
    items = [Item(TEA.text, -1.0), Item(TEA_AGAIN.text, -1.2), Item(BERLIN.text, -1.5), Item("noise", -9.0)]
    assert pick(items, 2, 0.3) == [TEA.text, BERLIN.text]


def test_items_past_the_pool_fill_in_when_the_pool_is_all_near_copies() -> None:
    k = 2
    copies = [Item(TEA.text, 1.0 - i / 100) for i in range(NOVELTY_POOL * k)]
    assert pick([*copies, BERLIN], k, 0.3) == [TEA.text, BERLIN.text]


def test_an_empty_list_and_k_larger_than_the_list() -> None:
    assert pick([], 3, 0.3) == []
    assert pick([BERLIN], 3, 0.3) == [BERLIN.text]


def test_tokens_the_caller_already_has_are_used_instead_of_the_text() -> None:
    def berlin_as_tea(item: Item) -> set[str]:
        return content_tokens(TEA.text if item is BERLIN else item.text)

    def chosen(items: list[Item], novelty: float, tokens_of: Callable[[Item], set[str]] | None) -> list[str]:
        picked = diversify(
            items, lambda i: i.text, 2, 0.75, score_of=lambda i: i.score, novelty=novelty, tokens_of=tokens_of
        )
        return [i.text for i in picked]

    in_order, by_novelty = [TEA, BERLIN, TEA_AGAIN], [TEA, TEA_AGAIN, BERLIN]
    # the text's own tokens give the picks the text gives
    assert chosen(in_order, 0.0, lambda i: content_tokens(i.text)) == [TEA.text, BERLIN.text]
    assert chosen(by_novelty, 0.3, lambda i: content_tokens(i.text)) == [TEA.text, BERLIN.text]
    # the picks follow the tokens given, not the text: Berlin given the tea's tokens is a copy of it
    assert chosen(in_order, 0.0, berlin_as_tea) == [TEA.text, TEA_AGAIN.text]
    assert chosen(by_novelty, 0.3, berlin_as_tea) == [TEA.text, TEA_AGAIN.text]
