"""Health (admins): each dependency's state, the embedding and fact-extraction backlogs, ok or degraded.

The deep-health service of `GET /v1/admin/health/deep`. Every dependency the report names gets a row (one
this page has no words for is described by its field's description in `HealthDeps`). The report's
`pendingExtractions` is null both when LLM fact extraction is off and when its count could not be read, so
the page tells the two apart by the server's setting: off is said plainly, never shown as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.responses import Response

from novamem.services.operations.models import HealthDeps
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["HEALTH", "SCREENS", "Dependency", "owed_for"]

HEALTH = "/admin/health"
_WORDS = {
    "warm": ("Warm tier", "PostgreSQL: the source of truth for every entry, account and token."),
    "cold": (
        "Vector index",
        "Where semantic search finds its nearest neighbours: pgvector in PostgreSQL, or Qdrant. The health"
        " API calls it the cold tier; it has nothing to do with a memory's warm or cold tier.",
    ),
    "graph": ("Graph store", "A separate graph database; relations are rows in PostgreSQL, so none is needed."),
    "embedder": ("Embedder", "Turns text into vectors for semantic search; keyword search works without it."),
}


@dataclass(frozen=True, slots=True)
class Dependency:
    """One row of the dependency table."""

    name: str
    description: str
    status: str


def _dependencies(deps: HealthDeps) -> list[Dependency]:
    return [
        Dependency(*_WORDS.get(key, (key, field.description or "")), str(getattr(deps, key)))
        for key, field in HealthDeps.model_fields.items()
    ]


def owed_for(since: str | None, now: datetime) -> str | None:
    """How long a debt recorded at ISO time `since` has been owed at `now`, in words (`3 h 12 min`)."""
    if since is None:
        return None
    seconds = max(int((now - datetime.fromisoformat(since.replace("Z", "+00:00"))).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


async def health_page(visit: Visit) -> Response:
    """The deep health report, dependency by dependency."""
    report = await visit.container.health.deep(visit.caller)
    return visit.render(
        "admin_health.html",
        report=report,
        dependencies=_dependencies(report.deps),
        extraction=visit.container.settings.extraction_enabled,
        oldest_owed_for=owed_for(report.oldest_extraction_owed_at, datetime.now(UTC)),
    )


SCREENS = (Screen(HEALTH, health_page, ("GET", "/v1/admin/health/deep"), admin=True),)
