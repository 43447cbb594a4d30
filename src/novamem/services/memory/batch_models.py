"""Wire models of `POST /v1/remember/batch`: many raw writes in one request (an extension of the contract)."""

from __future__ import annotations

from pydantic import Field

from novamem.services.memory.models import CaptureResult, MemoryCreate
from novamem.services.wire import OmitNone, Out, Wire

__all__ = ["MAX_BATCH_ENTRIES", "BatchItemResult", "RememberBatchRequest", "RememberBatchResponse"]

# as `POST /v1/me/import`; the request body limit (2 MB) applies as well
MAX_BATCH_ENTRIES = 200


class RememberBatchRequest(Wire):
    """Up to 200 memories, each with the body of `POST /v1/remember`; one invalid entry refuses the whole
    request (issues at `entries.N.<field>`), so nothing is half-stored by a malformed call."""

    entries: list[MemoryCreate] = Field(
        min_length=1,
        max_length=MAX_BATCH_ENTRIES,
        description="the memories, each as `POST /v1/remember` takes it; a text over the length cap is split",
    )


class BatchItemResult(CaptureResult):
    """One entry's outcome, as `POST /v1/remember` answers it; or `id: null` with the `error` that
    `POST /v1/remember` would have answered for this entry alone (an unknown project, a quota)."""

    error: OmitNone[str] = Field(None, description="why this entry was refused (the single write's error string)")


class RememberBatchResponse(Out):
    saved: int = Field(description="entries stored or merged into an existing duplicate")
    results: list[BatchItemResult] = Field(description="one per entry, in the order sent")
