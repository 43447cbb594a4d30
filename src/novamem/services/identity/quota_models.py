"""Wire models of write quotas: the per-user override an admin sets and the usage a user sees."""

from __future__ import annotations

from pydantic import Field

from novamem.services.wire import Out, Wire

__all__ = ["QuotaResponse", "QuotaUpdate", "QuotaView", "UsageResponse"]

MAX_QUOTA = 2_147_483_647  # the largest value the integer columns hold


class QuotaUpdate(Wire):
    """Per-user overrides; null (or absent) falls back to the server default, 0 means unlimited."""

    max_entries: int | None = Field(None, ge=0, le=MAX_QUOTA, description="stored entries allowed")
    writes_per_minute: int | None = Field(None, ge=0, le=MAX_QUOTA, description="writes allowed per minute")


class QuotaView(Out):
    max_entries: int | None = Field(description="null = unlimited")
    writes_per_minute: int | None = Field(description="null = unlimited")


class UsageResponse(Out):
    entries: int = Field(description="entries you wrote that are stored now")
    quota: QuotaView


class QuotaResponse(Out):
    user_id: str
    quota: QuotaView
