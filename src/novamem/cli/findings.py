"""One item of `novamem doctor`'s checklist, shared by the configuration and the Compose checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Finding", "Status"]

Status = Literal["pass", "warn", "fail", "skipped"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One checklist item: its name, outcome, what was seen and (unless it passed) how to fix it."""

    check: str
    status: Status
    detail: str
    fix: str = ""
