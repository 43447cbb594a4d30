"""Time in a query, without a language model: the window a question names and whether it asks "when".

`time_intent(query, now)` reads English expressions relative to `now` (the clock is passed in):

- `yesterday`, `today`, `this/last week|month|year` (calendar weeks start on Monday), `the past
  week|month|year` (up to `now`);
- `in 2023`, `in May 2023`, `in May` (the latest May that has begun), `on 8 May 2023`, `May 8, 2023`,
  `2023-05-08`;
- `before <date>`, `after <date>`, `since <date>` (a date is any of the forms above: year, month, day);
- `N days|weeks|months before|after <date>`, `the week before|after <date>`: from the shifted date
  through the date itself (a memory told on that date about the earlier time is inside);
- `N days|weeks|months|years ago` (N a number or a word up to twelve, or `a`): that unit's span around
  the moment `now − N units`;
- `in the last|past N days|weeks|months|years`, `last N days`: up to `now`.

The first expression found wins. A question opening with `when` (or asking `what date`, `what time`,
`how long ago`) sets `asks_when`. Windows are half-open `[start, end)` in UTC; `None` is unbounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["TimeIntent", "TimeWindow", "happened_at", "time_intent", "time_score"]

_MONTHS = {
    name: n
    for n, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}

_MONTH = r"(?P<{p}month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<{p}year>(?:19|20)\d\d)"
_DAY = r"(?P<{p}day>[0-3]?\d)(?:st|nd|rd|th)?"
_COUNT = r"(?P<count>\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"
_UNIT = r"(?P<unit>day|week|month|year)s?"


def _date(prefix: str) -> str:
    """One date expression (ISO day, day month year, month day year, month year, month, year)."""
    p = prefix
    return (
        rf"(?:(?P<{p}iso>(?:19|20)\d\d-[01]\d-[0-3]\d)"
        rf"|{_DAY.format(p=p)}\s+(?:of\s+)?{_MONTH.format(p=p + 'a')},?\s+{_YEAR.format(p=p + 'a')}"
        rf"|{_MONTH.format(p=p + 'b')}\s+{_DAY.format(p=p + 'b')},?\s+{_YEAR.format(p=p + 'b')}"
        rf"|{_MONTH.format(p=p + 'c')},?\s+{_YEAR.format(p=p + 'c')}"
        rf"|{_MONTH.format(p=p + 'd')}(?![\w-])"
        rf"|{_YEAR.format(p=p + 'e')})"
    )


_RELATIVE_DAY = re.compile(r"\b(?P<word>yesterday|today|tonight)\b", re.I)
_CALENDAR = re.compile(r"\b(?P<which>this|last|past|previous)\s+(?P<unit>week|month|year)\b", re.I)
_AGO = re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+ago\b", re.I)
_SPAN = re.compile(rf"\b(?:in\s+the\s+)?(?:last|past)\s+{_COUNT}\s+{_UNIT}\b", re.I)
_OFFSET = re.compile(
    rf"\b(?:{_COUNT}|the)\s+{_UNIT}\s+(?P<dir>before|after)\s+{_date('x')}(?![\w-])",
    re.I,
)
_BOUNDED = re.compile(rf"\b(?P<rel>before|after|since|until|till|by|in|during|on|of)\s+{_date('x')}(?![\w-])", re.I)
_BARE = re.compile(
    rf"(?<![\w-])(?:(?P<iso>(?:19|20)\d\d-[01]\d-[0-3]\d)"
    rf"|{_DAY.format(p='')}\s+(?:of\s+)?{_MONTH.format(p='a')},?\s+{_YEAR.format(p='a')}"
    rf"|{_MONTH.format(p='b')}\s+{_DAY.format(p='b')},?\s+{_YEAR.format(p='b')}"
    rf"|{_MONTH.format(p='c')},?\s+{_YEAR.format(p='c')})(?![\w-])",
    re.I,
)
_WHEN = re.compile(r"^\W*when\b|\bwhat\s+(?:date|day|time|year|month)\b|\bhow\s+long\s+ago\b", re.I)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open span of time `[start, end)` in UTC; `None` on a side means unbounded."""

    start: datetime | None
    end: datetime | None

    def __contains__(self, moment: object) -> bool:
        if not isinstance(moment, datetime):
            return False
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


@dataclass(frozen=True, slots=True)
class TimeIntent:
    """What a query says about time: the window it names (None: none) and whether it asks "when"."""

    window: TimeWindow | None
    asks_when: bool


def _day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return _month_start(start.year + 1, 1) if start.month == 12 else _month_start(start.year, start.month + 1)


def _count(text: str) -> int:
    lowered = text.lower()
    return _NUMBER_WORDS[lowered] if lowered in _NUMBER_WORDS else int(lowered)


def _calendar(which: str, unit: str, now: datetime) -> TimeWindow:
    """This or the previous calendar week, month or year."""
    today = _day_start(now)
    previous = which.lower() != "this"
    if unit == "week":
        start = today - timedelta(days=today.weekday())
        start = start - timedelta(days=7) if previous else start
        return TimeWindow(start, start + timedelta(days=7))
    if unit == "month":
        start = _month_start(today.year, today.month)
        if previous:
            start = _month_start(start.year - 1, 12) if start.month == 1 else _month_start(start.year, start.month - 1)
        return TimeWindow(start, _next_month(start))
    year = today.year - 1 if previous else today.year
    return TimeWindow(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))


def _date_window(groups: dict[str, str | None], p: str, now: datetime) -> TimeWindow | None:
    """The span one matched date expression covers: a day, a month or a year (None: not a real date)."""
    try:
        if iso := groups.get(f"{p}iso"):
            day = datetime.strptime(iso, "%Y-%m-%d").replace(tzinfo=UTC)
            return TimeWindow(day, day + timedelta(days=1))
        # day month year names its day `<p>day`, month day year `<p>bday`
        for form, day_group in (("a", f"{p}day"), ("b", f"{p}bday")):
            if month_name := groups.get(f"{p}{form}month"):
                year, day_of_month = int(str(groups[f"{p}{form}year"])), int(str(groups[day_group]))
                day = datetime(year, _MONTHS[month_name.lower()], day_of_month, tzinfo=UTC)
                return TimeWindow(day, day + timedelta(days=1))
    except ValueError:
        return None
    if groups.get(f"{p}cmonth"):
        start = _month_start(int(str(groups[f"{p}cyear"])), _MONTHS[str(groups[f"{p}cmonth"]).lower()])
        return TimeWindow(start, _next_month(start))
    if groups.get(f"{p}dmonth"):
        month = _MONTHS[str(groups[f"{p}dmonth"]).lower()]
        year = now.year if month <= now.month else now.year - 1  # the latest such month that has begun
        start = _month_start(year, month)
        return TimeWindow(start, _next_month(start))
    if groups.get(f"{p}eyear"):
        year = int(str(groups[f"{p}eyear"]))
        return TimeWindow(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    return None


def _bounded(match: re.Match[str], now: datetime) -> TimeWindow | None:
    span = _date_window(match.groupdict(), "x", now)
    if span is None:
        return None
    rel = match.group("rel").lower()
    if rel == "before":
        return TimeWindow(None, span.start)
    if rel in {"until", "till", "by"}:
        return TimeWindow(None, span.end)
    if rel == "after":
        return TimeWindow(span.end, None)
    if rel == "since":
        return TimeWindow(span.start, None)
    return span


def _offset(match: re.Match[str], now: datetime) -> TimeWindow | None:
    """`two weeks before <date>` / `the week before <date>`: from the shifted moment (less half a unit)
    through the date's own span, so a memory told on the date about that earlier time counts too
    (`after`: the mirror image)."""
    span = _date_window(match.groupdict(), "x", now)
    if span is None or span.start is None or span.end is None:
        return None
    days = _UNIT_DAYS[match.group("unit").lower()]
    count = 1 if match.group("count") is None else _count(match.group("count"))
    reach = timedelta(days=days * count + (days / 2 if count > 1 else 0))
    if match.group("dir").lower() == "before":
        return TimeWindow(span.start - reach, span.end)
    return TimeWindow(span.start, span.end + reach)


def _window(query: str, now: datetime) -> TimeWindow | None:
    """The first time expression of the query as a window (see the module docstring), or None."""
    for shifted in _OFFSET.finditer(query):
        if (window := _offset(shifted, now)) is not None:
            return window
    if m := _AGO.search(query):
        days = _UNIT_DAYS[m.group("unit").lower()]
        centre = now - timedelta(days=days * _count(m.group("count")))
        if days == 1.0:
            return TimeWindow(_day_start(centre), _day_start(centre) + timedelta(days=1))
        return TimeWindow(centre - timedelta(days=days / 2), centre + timedelta(days=days / 2))
    if m := _SPAN.search(query):
        return TimeWindow(now - timedelta(days=_UNIT_DAYS[m.group("unit").lower()] * _count(m.group("count"))), now)
    if m := _RELATIVE_DAY.search(query):
        today = _day_start(now)
        start = today - timedelta(days=1) if m.group("word").lower() == "yesterday" else today
        return TimeWindow(start, start + timedelta(days=1))
    if m := _CALENDAR.search(query):
        unit = m.group("unit").lower()
        if m.group("which").lower() == "past":  # "the past week": the last seven days, up to now
            return TimeWindow(now - timedelta(days=_UNIT_DAYS[unit]), now)
        return _calendar(m.group("which"), unit, now)
    for bounded in _BOUNDED.finditer(query):
        if bounded.group("xdmonth") == "may":  # lower-case "may" alone is the verb ("in may be"), not the month
            continue
        if (window := _bounded(bounded, now)) is not None:
            return window
    for bare in _BARE.finditer(query):
        if (window := _date_window(bare.groupdict(), "", now)) is not None:
            return window
    return None


def time_intent(query: str, now: datetime) -> TimeIntent | None:
    """The time a query names and whether it asks "when"; None when it says nothing about time."""
    window = _window(query, now.astimezone(UTC))
    asks_when = _WHEN.search(query) is not None
    if window is None and not asks_when:
        return None
    return TimeIntent(window=window, asks_when=asks_when)


def happened_at(occurred_at: datetime | None, created_at: datetime) -> datetime:
    """When a memory's event happened: its `occurred_at`, else when it was stored."""
    return occurred_at if occurred_at is not None else created_at


def time_score(intent: TimeIntent, occurred_at: datetime | None, created_at: datetime) -> float:
    """1 when the memory matches the query's time, else 0.

    With a window: the memory happened inside it (`occurred_at`, else `created_at`). A "when" question
    without a window prefers memories that know when they happened (an `occurred_at`).
    """
    if intent.window is not None:
        return 1.0 if happened_at(occurred_at, created_at) in intent.window else 0.0
    return 1.0 if intent.asks_when and occurred_at is not None else 0.0
