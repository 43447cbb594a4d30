"""Flash messages: one short note carried across a post/redirect/get in a signed, short-lived cookie.

A dashboard action that succeeds answers 303 with the note in the `nm.flash` cookie; the next page shows it
once and deletes the cookie. The value is signed with a key derived from the cookie secret, so a cookie
planted by someone else (a sibling subdomain, say) is ignored instead of shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from starlette.responses import Response

__all__ = ["FLASH_COOKIE", "Flash", "FlashKind", "FlashSigner"]

FLASH_COOKIE = "nm.flash"
FLASH_MAX_AGE_S = 120
MAX_FLASH_TEXT = 400
FlashKind = Literal["success", "error", "info"]
_KINDS: dict[str, FlashKind] = {"success": "success", "error": "error", "info": "info"}


@dataclass(frozen=True, slots=True)
class Flash:
    """A note for the next page: what happened, and how it went."""

    text: str
    kind: FlashKind = "success"


class FlashSigner:
    """Writes and reads the flash cookie."""

    def __init__(self, cookie_secret: str, *, secure: bool) -> None:
        self._key = hashlib.sha256(b"novamem dashboard flash\x00" + cookie_secret.encode()).digest()
        self._secure = secure

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def attach(self, response: Response, flash: Flash) -> None:
        """Set the cookie carrying `flash` on a (redirect) response."""
        raw = json.dumps({"k": flash.kind, "t": flash.text[:MAX_FLASH_TEXT]}, separators=(",", ":"))
        payload = base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()
        response.set_cookie(
            FLASH_COOKIE,
            f"{payload}.{self._signature(payload)}",
            max_age=FLASH_MAX_AGE_S,
            path="/admin",
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )

    def read(self, value: str | None) -> Flash | None:
        """The note in a cookie value, or None when there is none or its signature does not verify."""
        if not value:
            return None
        payload, dot, signature = value.rpartition(".")
        if not dot or not hmac.compare_digest(signature.encode(), self._signature(payload).encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("t"), str):
            return None
        kind = _KINDS.get(str(data.get("k")))
        return Flash(data["t"], kind) if kind is not None else None

    def clear(self, response: Response) -> None:
        """Delete the cookie (the note was shown)."""
        response.delete_cookie(FLASH_COOKIE, path="/admin", secure=self._secure, httponly=True, samesite="lax")
