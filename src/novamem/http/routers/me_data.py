"""Self-service data of the signed-in user: export, import, usage, change feed, today, onboarding."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from novamem.http.deps import ContainerDep, UserDep, client_ip
from novamem.services.identity.quota_models import UsageResponse
from novamem.services.memory.selfservice_models import (
    ChangesResponse,
    ExportResponse,
    ImportRequest,
    ImportResponse,
    OnboardingResponse,
    TodayResponse,
)
from novamem.services.wire import ENTRY_ID_PATTERN

router = APIRouter(prefix="/v1/me", tags=["self-service"])


@router.get("/export", response_model=None, responses={200: {"model": ExportResponse}})
async def export(
    caller: UserDep,
    c: ContainerDep,
    after_id: Annotated[str | None, Query(alias="afterId", pattern=ENTRY_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> dict[str, Any]:
    """Your memories and those of your projects, oldest first; page with `afterId` until it is null."""
    return (await c.selfservice.export(caller, after_id, limit)).to_wire()


@router.post(
    "/import",
    status_code=201,
    response_model=None,
    responses={
        201: {
            "model": ImportResponse,
            "description": "at least one entry was imported or merged; when every entry failed, the same body "
            "comes with status 400",
        },
        400: {"model": ImportResponse, "description": "every entry failed (or the body is invalid)"},
    },
)
async def import_entries(body: ImportRequest, request: Request, caller: UserDep, c: ContainerDep) -> JSONResponse:
    """Store up to 200 memories (no worthiness gate); re-importing the same content changes nothing."""
    outcome = await c.selfservice.import_entries(caller, body, client_ip(request))
    return JSONResponse(outcome.to_wire(), status_code=400 if outcome.all_failed else 201)


@router.get("/usage", response_model=None, responses={200: {"model": UsageResponse}})
async def usage(caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """How many entries you have stored, and your quota (null = unlimited)."""
    return (await c.selfservice.usage(caller)).to_wire()


@router.get("/changes", response_model=None, responses={200: {"model": ChangesResponse}})
async def changes(
    caller: UserDep,
    c: ContainerDep,
    since: Annotated[datetime | None, Query(description="only changes at or after this time")] = None,
    after_seq: Annotated[int | None, Query(alias="afterSeq", ge=0, description="resume after this seq")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Created, updated, superseded, deleted and expired events on memories you can see (30 days)."""
    return (await c.selfservice.changes(caller, since=since, after_seq=after_seq, limit=limit)).to_wire()


@router.get("/today", response_model=None, responses={200: {"model": TodayResponse}})
async def today(caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """Your activity in the last 24 hours: memories, tokens, projects and audit events, newest first."""
    return (await c.selfservice.today(caller)).to_wire()


@router.get("/onboarding", response_model=None, responses={200: {"model": OnboardingResponse}})
async def onboarding(caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """Which first-run steps are done: an admin exists, you exist, you minted a token, you stored a memory."""
    return (await c.selfservice.onboarding(caller)).to_wire()
