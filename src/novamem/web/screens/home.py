"""The home screen: today's activity, and the first steps while they are not done."""

from __future__ import annotations

from starlette.responses import Response

from novamem.web.routing import HOME, Screen
from novamem.web.visit import Visit

__all__ = ["SCREENS"]


async def home_page(visit: Visit) -> Response:
    """Today's feed (`GET /v1/me/today`) and, until done, the onboarding steps."""
    services = visit.container.selfservice
    today = await services.today(visit.caller)
    steps = await services.onboarding(visit.caller)
    return visit.render("home.html", today=today, steps=steps)


SCREENS = (Screen(HOME, home_page, ("GET", "/v1/me/today")),)
