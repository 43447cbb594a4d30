"""The table of contract strings cannot rot: every entry names a constant the server actually uses, and every
string constant of the module is in the table (so the generated error page lists it)."""

from __future__ import annotations

import re
from pathlib import Path

from novamem import error_messages
from novamem.error_messages import BA_MESSAGES, CONTRACT_ERRORS

SRC = Path(error_messages.__file__).resolve().parent
_SOURCES = {path: path.read_text(encoding="utf-8") for path in SRC.rglob("*.py") if path.name != "error_messages.py"}
_STRINGS = {
    name: value
    for name, value in vars(error_messages).items()
    if name.isupper() and isinstance(value, str) and name in error_messages.__all__
}
# the codes that travel beside a string rather than strings themselves
_CODES = {"LAST_ADMIN_CODE", "LOCKED_CODE", "THROTTLED_CODE", "USER_EXISTS_CODE"}


def _used(word: str) -> bool:
    pattern = re.compile(rf"\b{re.escape(word)}\b")
    return any(pattern.search(text) for text in _SOURCES.values())


def test_every_entry_names_a_string_constant_of_the_module() -> None:
    for entry in CONTRACT_ERRORS:
        assert entry.constant in _STRINGS, entry
        assert entry.message == _STRINGS[entry.constant]


def test_every_constant_in_the_table_is_used_by_the_server() -> None:
    unused = [
        e.constant
        for e in CONTRACT_ERRORS
        # a Better Auth message is sent by its code (the edge looks the message up in BA_MESSAGES)
        if not _used(e.constant) and not (e.source == "better-auth" and e.code and _used(e.code))
    ]
    assert unused == [], f"constants in the table that no module under src/novamem uses: {unused}"


def test_every_string_constant_is_in_the_table() -> None:
    listed = {e.constant for e in CONTRACT_ERRORS}
    missing = sorted(set(_STRINGS) - listed - _CODES)
    assert missing == [], f"string constants missing from CONTRACT_ERRORS (and so from the docs): {missing}"


def test_templates_are_filled_with_named_fields_only() -> None:
    for name, value in _STRINGS.items():
        assert "{}" not in value, name
        for field in re.findall(r"\{(\w*)\}", value):
            assert field, name


def test_better_auth_codes_have_one_message_each() -> None:
    for entry in CONTRACT_ERRORS:
        if entry.source == "better-auth" and entry.code in BA_MESSAGES:
            assert BA_MESSAGES[entry.code] == entry.message, entry
