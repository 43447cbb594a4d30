"""Audit log (admins): every admin and project-management action of the tenant, newest first, with a
text filter and paging done by the service (`GET /v1/admin/audit-log` keeps its own behaviour).

Destructive actions (`*.ban`, `*.remove`, `*.delete`, `*.revoke`) and additive ones (`*.add`, `*.create`,
`*.invite`) are marked apart; metadata is flattened into `key: value` details.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.responses import Response

from novamem.services.identity.account_models import AuditEntry, AuditPage, AuditQuery
from novamem.web.forms import Form
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["AUDIT", "SCREENS", "AuditRow", "action_kind", "flatten"]

AUDIT = "/admin/audit"
ActionKind = Literal["destructive", "additive", "neutral"]
_DESTRUCTIVE = frozenset({"ban", "remove", "delete", "revoke"})
_ADDITIVE = frozenset({"add", "create", "invite"})
_MAX_DETAIL = 160


def action_kind(action: str) -> ActionKind:
    """Whether an action took something away, added something, or neither (by its last dotted word)."""
    verb = action.rsplit(".", 1)[-1]
    if verb in _DESTRUCTIVE:
        return "destructive"
    if verb in _ADDITIVE:
        return "additive"
    return "neutral"


def flatten(metadata: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """`{"a": {"b": 1}, "c": [1, 2]}` as (`a.b`, `1`), (`c`, `1, 2`): nested keys dotted, lists joined."""
    for key, value in metadata.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, name + ".")
        elif isinstance(value, list):
            yield name, ", ".join("null" if item is None else str(item) for item in value)
        else:
            text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            yield name, text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An audit entry as the table shows it."""

    entry: AuditEntry
    kind: ActionKind
    details: tuple[tuple[str, str], ...]


def _link(page: AuditPage, offset: int) -> str:
    params: dict[str, str | int] = {"q": page.q} if page.q else {}
    if offset:
        params["offset"] = offset
    if page.limit != AuditQuery().limit:
        params["limit"] = page.limit
    return AUDIT + ("?" + urlencode(params) if params else "")


async def audit_page(visit: Visit) -> Response:
    """One page of the log, newest first, filtered by `q` when given (`offset`, `limit` page through it)."""
    form = Form.submitted(AuditQuery, visit.query)
    if form.model is None:
        return visit.render("admin_audit.html", status=form.status, form=form, page=None, rows=[])
    page = await visit.container.audit.page(visit.caller, form.model)
    rows = [AuditRow(e, action_kind(e.action), tuple(flatten(e.metadata))) for e in page.entries]
    return visit.render(
        "admin_audit.html",
        form=form,
        page=page,
        rows=rows,
        newer=_link(page, max(page.offset - page.limit, 0)) if page.offset else None,
        older=_link(page, page.offset + page.limit) if page.has_more else None,
    )


SCREENS = (Screen(AUDIT, audit_page, ("GET", "/v1/admin/audit-log"), admin=True),)
