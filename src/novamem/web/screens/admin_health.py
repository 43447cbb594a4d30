"""Health (admins): each dependency's state, the embedding backlog, ok or degraded.

The deep-health service of `GET /v1/admin/health/deep`. Every dependency the report names gets a row (one
this page has no words for is described by its field's description in `HealthDeps`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from novamem.services.operations.models import HealthDeps
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["HEALTH", "SCREENS", "Dependency"]

HEALTH = "/admin/health"
_WORDS = {
    "warm": ("Warm tier", "PostgreSQL: the source of truth for every entry, account and token."),
    "cold": ("Cold tier (vectors)", "The vector index: pgvector, in the same PostgreSQL."),
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


async def health_page(visit: Visit) -> Response:
    """The deep health report, dependency by dependency."""
    report = await visit.container.health.deep(visit.caller)
    return visit.render("admin_health.html", report=report, dependencies=_dependencies(report.deps))


SCREENS = (Screen(HEALTH, health_page, ("GET", "/v1/admin/health/deep"), admin=True),)
