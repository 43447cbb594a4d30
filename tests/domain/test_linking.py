"""The graph signal's maths: entities of a memory, seeds, link strength and best paths."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

from novamem.domain.linking import (
    ENTITY_MAX_POSTINGS,
    Link,
    best_paths,
    entity_strength,
    lookup_keys,
    memory_entities,
    newest_first,
    posting_entities,
    posting_key,
    seed_weights,
    source_strength,
)
from novamem.domain.ranking import opens_sentence, query_entities


def test_memory_entities_finds_names_quotes_numbers_and_dates() -> None:
    text = 'Deploy notes: we moved the API to Hetzner Cloud on 12 March 2024, behind "edge-proxy", port 8443.'
    found = memory_entities(text)
    assert "hetzner cloud" in found
    assert "edge-proxy" in found
    assert "8443" in found
    assert "12 march 2024" in found
    assert "2024-05-01" in memory_entities("Rotated the keys on 2024-05-01.")


def test_memory_entities_skips_sentence_openers_and_lone_stop_words() -> None:
    found = memory_entities("Thanks for the help. Yeah, Melanie said I should ask Sweden's embassy.")
    assert "thanks" not in found
    assert "yeah" not in found
    assert "i" not in found
    assert "melanie" in found


def test_apostrophes_of_contractions_and_possessives_quote_nothing() -> None:
    text = "It's just like when I win a tournament - it feels awesome! I'm proud of the students' work."
    assert memory_entities(text) == []
    found = memory_entities("Jolene's favourite game is 'Walking Dead', she said; set 'max_connections' to 200.")
    assert "walking dead" in found
    assert "max_connections" in found
    assert not any(e.endswith("'") for e in found)  # the closing quote is not part of the name
    assert query_entities("What's the 'edge-proxy' port Caroline's team uses?") == ["edge-proxy", "caroline's"]


def test_entity_strength_weakens_with_postings_and_drops_common_entities() -> None:
    assert entity_strength(1) == 0.0  # only the seed itself carries it: links nothing
    assert entity_strength(2) == 0.5
    assert entity_strength(2) > entity_strength(4) > entity_strength(ENTITY_MAX_POSTINGS) > 0
    assert entity_strength(ENTITY_MAX_POSTINGS + 1) == 0.0


def test_seed_weights_take_the_strong_head_relative_to_the_best() -> None:
    ranked = [("a", 1.0), ("b", 0.75), ("c", 0.49), ("d", 0.3)]
    assert seed_weights(ranked) == {"a": 1.0, "b": 0.75}
    assert seed_weights(ranked, count=1) == {"a": 1.0}
    assert seed_weights([]) == {}
    assert seed_weights([("a", 0.0)]) == {}


def test_best_paths_keep_the_best_product_per_memory() -> None:
    seeds = {"a": 1.0, "b": 0.5}
    links = [Link("a", "x", 0.4), Link("b", "x", 0.9), Link("b", "a", 0.6), Link("z", "y", 1.0), Link("a", "a", 1.0)]
    scores = best_paths(seeds, links)
    assert scores["x"] == 0.45  # 0.5 x 0.9 beats 1.0 x 0.4
    assert scores["a"] == 0.3  # a seed reached from another seed
    assert "y" not in scores and "z" not in scores  # "z" is no seed: its link counts for nothing
    assert best_paths(seeds, [Link("a", "x", 7.0)]) == {"x": 1.0}  # strengths are clamped to [0, 1]


def test_newest_first_puts_later_versions_above_earlier_ones() -> None:
    day = {name: datetime(2026, 1, n, tzinfo=UTC) for n, name in enumerate(("v1", "v2", "v3", "x", "same"), 1)}
    day["same"] = day["v3"]
    links = [Link("v1", "v2", 0.85), Link("v3", "v2", 0.8), Link("x", "v3", 0.5), Link("v3", "same", 0.9)]
    scores = {"v1": 0.9, "v2": 0.85, "v3": 0.8, "x": 0.95, "same": 0.81}
    out = newest_first(scores, links, day)
    assert sorted(out, key=lambda i: -out[i]) == ["x", "same", "v3", "v2", "v1"]
    assert out["x"] == 0.95  # a weak relation is no version
    assert out["same"] == 0.81  # nor is a memory of the same moment
    # an earlier version that matches clearly better keeps its place
    assert newest_first({"v1": 0.9, "v2": 0.7}, links, day) == {"v1": 0.9, "v2": 0.7}


def test_source_neighbours_weaken_with_distance() -> None:
    assert source_strength(1) > source_strength(2) > 0
    assert source_strength(0) == source_strength(3) == 0.0


def test_postings_file_a_memory_wherever_its_text_names_the_entity() -> None:
    text = "Falcon owns billing. Ask Quinn Ortega's team about 'blue green' rollouts on 7 May 2023."
    filed = posting_entities(text)
    # a name opening a sentence, the name after a sentence's first word and each of its words, no possessive
    assert {"falcon", "quinn ortega", "quinn", "ortega", "blue green", "7 may 2023"} <= set(filed)
    assert "falcon" not in memory_entities(text)  # a seed's own entities still skip sentence openers
    assert "the" not in posting_entities("The team met. Then The Falcon Team left.")
    assert len(posting_entities(" ".join(f"Name{n} said hi." for n in range(100)))) == 64


def test_lookup_keys_match_the_postings_and_skip_stop_words() -> None:
    seed = "That's what Tim's manager said: Falcon's pager goes to Priya."
    keys = lookup_keys(seed)
    assert "that" not in keys and "that's" not in keys
    assert {"tim", "falcon", "priya"} <= set(keys)
    assert set(keys) <= set(posting_entities(seed))
    assert posting_key("Tim\u2019s") == "tim" and posting_key("I") is None and posting_key("The") is None


def test_opens_sentence_agrees_with_the_rule_as_a_pattern_on_every_prefix() -> None:
    # the rule, as the pattern it replaces: nothing before, or a sentence's end and whitespace
    rule = re.compile(r"(?:^|[.!?]\s+)$")
    samples = [
        "",
        "\n",
        "\n\n",
        "Tim said hi. Anna left!  Bob? Yes.\nCarl\u00a0x. \u2003Dora",
        " Eve",
        "x.Fay",
        "One.\n Two?\tThree!\r\nFour",
    ]
    alphabet = "aZ .!?\n\t\u00a0-'"
    generator = random.Random(7)
    samples += ["".join(generator.choice(alphabet) for _ in range(generator.randint(0, 12))) for _ in range(400)]
    for text in samples:
        for start in range(len(text) + 1):
            assert opens_sentence(text, start) == bool(rule.search(text[:start])), (text, start)
