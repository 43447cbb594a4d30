"""Wire models of the operator routes: decay, orphan reaping, the dream cycle and the observer."""

from __future__ import annotations

from pydantic import Field

from novamem.services.wire import Out, Wire

__all__ = ["DecayRequest", "DecayResponse", "DreamCycleResponse", "ObserveRequest", "ObserveResponse", "ReapResponse"]


class DecayRequest(Wire):
    effective_days: float | None = Field(None, gt=0, le=3650, description="overrides the decay base in days")


class ObserveRequest(Wire):
    project: str | None = Field(None, max_length=128)
    limit: int = Field(20, ge=1, le=200)


class DecayResponse(Out):
    demoted: int
    promoted: int
    expired: int


class ReapResponse(Out):
    attempted: int
    cleared: int
    abandoned: int
    pending: int
    total: int


class DreamCycleResponse(Out):
    """A dream-cycle pass: entries walked, duplicates merged, `co_inferred` edges added, and (with fact
    extraction on) facts walked, clusters judged by the model and outdated facts superseded."""

    walked: int
    merged: int
    edges_promoted: int
    facts_walked: int
    fact_clusters_judged: int
    facts_superseded: int
    duration_ms: int


class ObserveResponse(Out):
    """An observer pass: the memories it observed, whether it condensed the log (0 or 1), the log's length."""

    observed: int
    reflected: int
    log_chars: int
