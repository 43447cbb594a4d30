"""The time a query names, read without a language model, relative to a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from novamem.domain.timeframe import TimeIntent, TimeWindow, happened_at, time_intent, time_score

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # a Thursday


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def window(query: str) -> TimeWindow | None:
    intent = time_intent(query, NOW)
    return intent.window if intent else None


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("what did we decide yesterday", at(2026, 12, 2), at(2026, 12, 3)),
        ("notes from today", at(2026, 12, 3), at(2026, 12, 4)),
        ("what happened last week", at(2026, 11, 23), at(2026, 11, 30)),
        ("plans made this week", at(2026, 11, 30), at(2026, 12, 7)),
        ("the outage last month", at(2026, 11, 1), at(2026, 12, 1)),
        ("where did I travel last year?", at(2025, 1, 1), at(2026, 1, 1)),
        ("goals for this year", at(2026, 1, 1), at(2027, 1, 1)),
        ("trips in 2023", at(2023, 1, 1), at(2024, 1, 1)),
        ("the party in May 2023", at(2023, 5, 1), at(2023, 6, 1)),
        ("the party in May", at(2026, 5, 1), at(2026, 6, 1)),
        ("the party in December", at(2026, 12, 1), at(2027, 1, 1)),  # the latest December that has begun
        ("what happened on 8 May, 2023", at(2023, 5, 8), at(2023, 5, 9)),
        ("painting shown on October 13, 2023", at(2023, 10, 13), at(2023, 10, 14)),
        ("deploy on 2023-05-08", at(2023, 5, 8), at(2023, 5, 9)),
        ("before June 2024", None, at(2024, 6, 1)),
        ("after 8 May 2023", at(2023, 5, 9), None),
        ("since 2020", at(2020, 1, 1), None),
        ("by March 2021", None, at(2021, 4, 1)),
        ("3 days ago", at(2026, 11, 30), at(2026, 12, 1)),
        ("a day ago", at(2026, 12, 2), at(2026, 12, 3)),
        ("two weeks ago", at(2026, 11, 16), at(2026, 11, 23)),
        ("in the last 10 days", at(2026, 11, 23, 12), NOW),
        ("over the past week", at(2026, 11, 26, 12), NOW),
        ("the puppy she got two weeks before August 11, 2023", at(2023, 7, 24, 12), at(2023, 8, 12)),
        ("the week before August 3, 2023", at(2023, 7, 27), at(2023, 8, 4)),
    ],
)
def test_expressions_become_windows(query: str, start: datetime | None, end: datetime | None) -> None:
    assert window(query) == TimeWindow(start, end)


@pytest.mark.parametrize(
    "query",
    [
        "how do I deploy the staging database",
        "we may go hiking",  # "may" the verb is not the month
        "port 5433 on the staging host",
        "in 30 February 2023",  # not a real day; nothing else names a time
    ],
)
def test_queries_without_time_have_no_intent(query: str) -> None:
    assert time_intent(query, NOW) is None


def test_when_questions_are_recognised_with_or_without_a_window() -> None:
    assert time_intent("When did Caroline go to the support group?", NOW) == TimeIntent(None, True)
    assert time_intent("what date is the launch", NOW) == TimeIntent(None, True)
    assert time_intent("how long ago was the move", NOW) == TimeIntent(None, True)
    both = time_intent("When did Melanie go camping in 2023?", NOW)
    assert both == TimeIntent(TimeWindow(at(2023, 1, 1), at(2024, 1, 1)), True)


def test_the_first_expression_wins_and_now_may_have_any_offset() -> None:
    assert window("in 2022 and again in 2023") == TimeWindow(at(2022, 1, 1), at(2023, 1, 1))
    local = datetime.fromisoformat("2026-12-03T01:00:00+05:00")  # 2 December, 20:00 UTC
    intent = time_intent("yesterday", local)
    assert intent is not None and intent.window == TimeWindow(at(2026, 12, 1), at(2026, 12, 2))


def test_window_membership_is_half_open() -> None:
    may = TimeWindow(at(2023, 5, 1), at(2023, 6, 1))
    assert at(2023, 5, 1) in may and at(2023, 5, 31, 23) in may
    assert at(2023, 6, 1) not in may and at(2023, 4, 30) not in may
    assert at(1999, 1, 1) in TimeWindow(None, at(2000, 1, 1))
    assert "2023-05-02" not in may


def test_time_score_uses_occurred_at_then_created_at() -> None:
    last_year = TimeIntent(TimeWindow(at(2025, 1, 1), at(2026, 1, 1)), asks_when=False)
    stored_now = at(2026, 12, 1)
    assert time_score(last_year, at(2025, 6, 1), stored_now) == 1.0
    assert time_score(last_year, at(2024, 6, 1), stored_now) == 0.0
    assert time_score(last_year, None, at(2025, 3, 1)) == 1.0  # no occurredAt: when it was stored
    assert time_score(last_year, None, stored_now) == 0.0
    assert happened_at(None, stored_now) == stored_now


def test_when_without_a_window_prefers_memories_that_know_their_time() -> None:
    when = TimeIntent(None, asks_when=True)
    assert time_score(when, at(2023, 5, 8), NOW) == 1.0
    assert time_score(when, None, NOW) == 0.0
