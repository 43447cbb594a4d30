"""Scrubs credentials out of text before it is logged: tokens, passwords, cookies, keys and known secrets.

Patterns catch credentials by shape (`nm_` tokens, `Bearer ...`, `password=...`, signed session cookies,
passwords inside URLs); the exact values of the configured secrets are registered at start-up and removed
wherever they appear, whatever their shape.
"""

from __future__ import annotations

import re
import threading

__all__ = ["REDACTED", "Redactor", "redactor"]

REDACTED = "[REDACTED]"
#: shorter registered values would redact ordinary words
MIN_SECRET_LENGTH = 6

_SENSITIVE_KEY = r"[\w.-]*?(?:password|passwd|secret|token|api[_-]?key|apikey|credential|session)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # `Cookie:` / `Set-Cookie:` headers: the whole rest of the line (several cookies, `;`-separated)
    (re.compile(r"(?i)\b((?:set-)?cookie[\"']?\s*[:=]\s*)[^\r\n\"']+"), r"\1" + REDACTED),
    # authorization schemes
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;}]+"), r"\1 " + REDACTED),
    # key = value, key: value, "key": "value" (a quoted value is consumed whole, spaces included)
    (
        re.compile(
            r"(?i)(?P<key>\b" + _SENSITIVE_KEY + r")(?P<sep>[\"']?\s*[:=]\s*)"
            r"(?:(?P<q>[\"'])(?:\\.|(?!(?P=q))[^\\])*(?P=q)|[^\"',\s}&;)\]]+)"
        ),
        "",  # replaced by _key_value
    ),
    # `nm_` API tokens anywhere
    (re.compile(r"nm_[A-Za-z0-9_-]{8,}"), REDACTED),
    # signed session cookie values: <32 alphanumerics>.<base64url HMAC-SHA256>
    (re.compile(r"\b[A-Za-z0-9]{32}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"), REDACTED),
    # passwords inside URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), r"\1" + REDACTED + "@"),
)


def _key_value(match: re.Match[str]) -> str:
    quote = match.group("q") or ""
    return f"{match.group('key')}{match.group('sep')}{quote}{REDACTED}{quote}"


class Redactor:
    """Removes credentials from text; `register` adds exact secret values to remove."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._exact: re.Pattern[str] | None = None

    def register(self, *values: str | None) -> None:
        """Remember secret values (cookie secret, shared token, API keys, passwords) to redact verbatim."""
        with self._lock:
            self._secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)
            ordered = sorted(self._secrets, key=len, reverse=True)  # the longest first: no partial leftovers
            self._exact = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._exact = None

    def redact(self, text: str) -> str:
        """`text` with every credential replaced by `[REDACTED]`."""
        exact = self._exact
        if exact is not None:
            text = exact.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement or _key_value, text)
        return text


#: the process's redactor: logging is process-wide, so the secrets it must hide are too
redactor = Redactor()
