"""First steps after the first sign-in: the state `GET /v1/me/onboarding` reports, with where to go next."""

from __future__ import annotations

from starlette.responses import Response

from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["ONBOARDING", "SCREENS"]

ONBOARDING = "/admin/onboarding"


async def onboarding_page(visit: Visit) -> Response:
    """Which first-run steps are done (a token minted, something remembered) and links to do the rest."""
    steps = await visit.container.selfservice.onboarding(visit.caller)
    return visit.render("onboarding.html", steps=steps)


SCREENS = (Screen(ONBOARDING, onboarding_page, ("GET", "/v1/me/onboarding")),)
