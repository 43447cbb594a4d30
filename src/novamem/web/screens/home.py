"""The home screen: "ask your memory" (`POST /v1/search`, k = 8) with each result's signals, today's activity,
and the first steps while they are not done."""

from __future__ import annotations

from starlette.responses import Response

from novamem.web.routing import HOME, Screen
from novamem.web.screens.memories import ask, projects_of
from novamem.web.visit import Visit

__all__ = ["HOME_RESULTS", "SCREENS"]

HOME_RESULTS = 8


async def home_page(visit: Visit) -> Response:
    """The search box (`?q=`), its results, today's feed (`GET /v1/me/today`) and, until done, the first steps."""
    services = visit.container.selfservice
    query = visit.query.get("q", "")
    search = await ask(visit, {"query": query, "k": str(HOME_RESULTS)}) if query else None
    today = await services.today(visit.caller)
    steps = await services.onboarding(visit.caller)
    projects = {project.id: project.name for project in await projects_of(visit)}
    return visit.render(
        "home.html",
        status=search.status if search else 200,
        today=today,
        steps=steps,
        search=search,
        query=query,
        project_names=projects,
    )


SCREENS = (Screen(HOME, home_page, ("GET", "/v1/me/today")),)
