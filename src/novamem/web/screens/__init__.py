"""Every dashboard screen. A screen module exports `SCREENS`; add it to the tuple below (one import, one line)."""

from __future__ import annotations

from novamem.web.routing import Screen
from novamem.web.screens import (
    account,
    activity,
    admin_audit,
    admin_health,
    admin_metrics,
    admin_tenants,
    admin_users,
    connect,
    home,
    memories,
    neighbours,
    onboarding,
    projects,
    tokens,
)

__all__ = ["SCREENS"]

SCREENS: tuple[Screen, ...] = (
    *home.SCREENS,
    *account.SCREENS,
    *onboarding.SCREENS,
    *memories.SCREENS,
    *activity.SCREENS,
    *neighbours.SCREENS,
    *projects.SCREENS,
    *tokens.SCREENS,
    *connect.SCREENS,
    *admin_users.SCREENS,
    *admin_health.SCREENS,
    *admin_metrics.SCREENS,
    *admin_audit.SCREENS,
    *admin_tenants.SCREENS,
)
