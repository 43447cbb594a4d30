"""Per-user metrics of the signed-in user (`/v1/me/metrics`, `/v1/me/metrics/history`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from novamem.http.deps import ContainerDep, UserDep
from novamem.services.operations.user_metrics import DEFAULT_HISTORY_HOURS, MAX_HISTORY_HOURS
from novamem.services.operations.user_metrics_models import AdminUserMetrics, MetricsHistory, UserMetrics

__all__ = ["router"]

router = APIRouter(prefix="/v1/me", tags=["self-service"])


@router.get(
    "/metrics",
    response_model=None,
    responses={
        200: {
            "model": UserMetrics | AdminUserMetrics,
            "description": "your own numbers; an admin's session or unrestricted token gets the global snapshot "
            "of `GET /v1/admin/metrics` with `tokens` and `_hasMyTokens` added",
        }
    },
)
async def metrics(caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """Your counted requests (2xx answers of search, recent, neighbors, context, context-prefix; remember,
    capture, session-recap; forget), per second over the last minute, your warm and cold entries, and one
    row per live token plus your dashboard sessions."""
    return (await c.user_metrics.me(caller)).to_wire()


@router.get("/metrics/history", response_model=MetricsHistory)
async def metrics_history(
    caller: UserDep,
    c: ContainerDep,
    hours: Annotated[
        int, Query(ge=1, le=MAX_HISTORY_HOURS, description="how many hours back, the current minute included")
    ] = DEFAULT_HISTORY_HOURS,
) -> dict[str, Any]:
    """Your counted requests per 1-minute bucket, oldest first; minutes without any are left out."""
    return (await c.user_metrics.history(caller, hours)).to_wire()
