"""Every dashboard screen. A screen module exports `SCREENS`; add it to the tuple below (one import, one line)."""

from __future__ import annotations

from novamem.web.routing import Screen
from novamem.web.screens import account, home, onboarding

__all__ = ["SCREENS"]

SCREENS: tuple[Screen, ...] = (
    *home.SCREENS,
    *account.SCREENS,
    *onboarding.SCREENS,
)
