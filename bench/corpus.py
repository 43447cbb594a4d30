"""Benchmark texts from LoCoMo: dialogue turns, their questions, and a large corpus of varied turns.

LoCoMo (Maharana et al., ACL 2024; CC BY-NC 4.0) is read from the shared data folder; nothing here
downloads anything. The large corpus keeps LoCoMo's language but makes every text distinct: turns are
re-voiced by other speakers, given a time and a place, and some are joined with a second turn.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Conversation", "Question", "Turn", "load_locomo", "varied_texts"]

DEFAULT_LOCOMO = Path("/work/shared/data/locomo/locomo10.json")
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}

_SESSION = re.compile(r"session_(\d+)")
_NAMES = (
    "Avery Blake Casey Devon Emerson Finley Harper Jordan Kendall Logan Morgan Parker Quinn Riley Sawyer"
    " Taylor Alex Jamie Robin Sasha Noor Mateo Priya Yusuf Ingrid Tomas Keiko Olu Marta Anton"
).split()
_PLACES = (
    "at home|at work|on the train|at the park|over coffee|after dinner|at the gym|on a call|at the library|"
    "during lunch|on the weekend|at the beach|in the car|at a cafe|before bed"
).split("|")
_MONTHS = "January February March April May June July August September October November December".split()


@dataclass(frozen=True, slots=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    session_date: str

    @property
    def content(self) -> str:
        """The memory stored for the turn: who said it and what (a shared photo's caption included)."""
        return f"{self.speaker}: {self.text}"


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    evidence: tuple[str, ...]
    category: int


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]
    skipped_questions: int


def locomo_path() -> Path:
    return Path(os.environ.get("LOCOMO_PATH", DEFAULT_LOCOMO))


def load_locomo(path: Path | None = None) -> list[Conversation]:
    """Every conversation with its turns in order and the questions whose evidence ids are all real turns."""
    raw = json.loads((path or locomo_path()).read_text(encoding="utf-8"))
    conversations = []
    for sample in raw:
        conv = sample["conversation"]
        sessions = sorted((k for k in conv if _SESSION.fullmatch(k)), key=lambda k: int(k.split("_")[1]))
        turns = []
        for key in sessions:
            date = conv.get(f"{key}_date_time", "")
            for t in conv[key]:
                text = t["text"]
                if t.get("blip_caption"):
                    text = f"{text} [shares a photo of {t['blip_caption']}]"
                turns.append(Turn(t["dia_id"], t["speaker"], text, date))
        ids = {t.dia_id for t in turns}
        questions, skipped = [], 0
        for qa in sample["qa"]:
            evidence = tuple(qa.get("evidence") or ())
            if not evidence or not all(e in ids for e in evidence):
                skipped += 1
                continue
            questions.append(Question(str(qa["question"]), evidence, int(qa["category"])))
        conversations.append(Conversation(sample["sample_id"], tuple(turns), tuple(questions), skipped))
    return conversations


def varied_texts(conversations: list[Conversation], count: int, seed: int = 7) -> Iterator[str]:
    """`count` distinct memory texts built from LoCoMo turns and deterministic variations of them."""
    turns = [t for c in conversations for t in c.turns]
    rng = random.Random(seed)
    seen: set[str] = set()
    i = 0
    while len(seen) < count:
        turn = turns[i % len(turns)]
        rnd = i // len(turns)
        i += 1
        if rnd == 0:
            text = turn.content
        else:
            text = _variation(turn, rng.choice(turns), rng)
        if text in seen:
            continue
        seen.add(text)
        yield text


def _variation(turn: Turn, other: Turn, rng: random.Random) -> str:
    speaker = rng.choice(_NAMES)
    when = f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(2019, 2025)}"
    body = turn.text
    mode = rng.random()
    if mode < 0.35:
        return f"{speaker} ({when}, {rng.choice(_PLACES)}): {body}"
    if mode < 0.7:
        return f"{speaker}: {body} {other.text}"
    return f"On {when} {speaker} said {rng.choice(_PLACES)}: {body}"
